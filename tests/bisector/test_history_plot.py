"""The nightly history plot: nights numbered as in the table, one window per stretch of bad
nights labelled with its pinned culprit, the port's configured thresholds."""

from __future__ import annotations

from bisector.cli import main
from bisector.report.nightly_history import bad_windows, configured_thresholds, night_ticks
from bisector.store.ledger import Ledger, Night
from portrepo import Change, make_port_repo

THRESHOLDS = "[tool.bisector.thresholds]\nmin_correlation = 0.99\nmax_sum_ratio_error = 0.02\n"


def _night(id, verdict, culprit=None) -> Night:
    return Night(id=id, started=0.0, finished=1.0, branch="main", tip=f"{id:040x}", tip_date=None, phase="done",
                 verdict=verdict, outcome=None, exit_code=None, hunted_from=None, culprit=culprit, report=None,
                 note=None)


def test_consecutive_bad_nights_are_one_window_labelled_with_the_pinned_culprit():
    nights = [_night(1, "good"), _night(2, "bad", "abcdef1" + "0" * 33), _night(3, "bad", "abcdef1" + "0" * 33),
              _night(4, "good"), _night(5, "bad"), _night(6, "bad")]
    assert bad_windows(nights) == [(1, 3, "culprit abcdef1"), (4, 6, "not pinned")]


def test_ticks_are_the_table_s_night_numbers_in_the_middle_of_each_night():
    nights = [_night(7, "good"), _night(9, "bad"), _night(12, "good")]  # --branch leaves gaps in the ids
    assert night_ticks(nights) == [(0.5, "7"), (1.5, "9"), (2.5, "12")]
    many = [_night(i, "good") for i in range(1, 101)]
    ticks = night_ticks(many)
    assert len(ticks) <= 20 and ticks[0] == (0.5, "1") and all(label.isdigit() for _, label in ticks)


def test_the_plot_draws_the_port_s_configured_thresholds(tmp_path, capsys):
    port = make_port_repo(tmp_path / "port", history=[Change("docs")], extra_toml=THRESHOLDS)
    assert configured_thresholds(port.path) == (0.99, 0.02, None)
    ledger = tmp_path / "ledger.sqlite3"
    with Ledger(ledger) as opened:
        night = opened.begin("main", port.head, None)
        opened.record_tip(night, "good", [dict(name="small", verdict="good", correlation=0.9999, sum_ratio=1.001)])
        opened.finish(night, outcome="good", exit_code=0)
    assert main(["history", "--repo", str(port.path), "--ledger", str(ledger), "--plot", str(tmp_path / "h.png")]) == 0
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG" and "note:" not in capsys.readouterr().err
    # a folder without a usable configuration: the defaults, with a notice saying why
    minimum, most, notice = configured_thresholds(tmp_path)
    assert (minimum, most) == (0.999, 5e-3) and "default thresholds" in notice
