"""`bisector nightly` remembers: a regression pinned on an earlier night is reported as known,
without hunting again; a new one on top of it is still hunted (docs/nightly.md)."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import pytest

from bisector.cli import main
from bisector.hunt.known import known_regression, last_good_for
from bisector.hunt.nightly import ALL_GOOD, KNOWN, PINNED
from bisector.score.scoring import ScenarioResult
from bisector.score.verdict import Verdict
from bisector.store.ledger import Ledger, Night, ScenarioEntry, default_path
from portrepo import Change, make_port_repo

THRESHOLDS = dict(min_correlation=0.999, max_sum_ratio_error=5e-3)


def _night(id, verdict, outcome, culprit=None, tip=None, **metrics) -> Night:
    """A finished night; ``metrics``: scenario=(verdict, correlation, sum_ratio)."""
    results = tuple(ScenarioEntry(name, v, c, s, None) for name, (v, c, s) in sorted(metrics.items()))
    return Night(id=id, started=0.0, finished=1.0, branch="main", tip=tip or f"tip{id}", tip_date=None,
                 phase="done", verdict=verdict, outcome=outcome, exit_code=None, hunted_from=None,
                 culprit=culprit, report=None, note=None, results=results)


def _tonight(**metrics) -> list[ScenarioResult]:
    return [ScenarioResult(name, Verdict(v), "", c, s) for name, (v, c, s) in sorted(metrics.items())]


GOOD = ("good", 0.99999, 1.0001)
BAD = ("bad", 0.95, 1.5)


def _known(earlier, tonight, in_history=lambda sha: True):
    return known_regression(earlier, tonight, in_history=in_history, **THRESHOLDS)


def test_the_same_bad_state_after_a_pinned_night_is_known_with_its_night_and_culprit():
    earlier = [_night(1, "good", "good", a=GOOD, b=GOOD), _night(2, "bad", "pinned", "c0ffee" * 6, a=BAD, b=GOOD)]
    known = _known(earlier, _tonight(a=("bad", 0.9504, 1.4990), b=GOOD))
    assert known is not None and known.nothing_new
    assert known.describe() == "still bad since night 2, culprit c0ffeec0ff"
    # a known night keeps the culprit: the night after is known from the same first night
    later = _known(earlier + [_night(3, "bad", "known", "c0ffee" * 6, a=BAD, b=GOOD)], _tonight(a=BAD, b=GOOD))
    assert later.culprits == ((2, "c0ffee" * 6),) and later.nothing_new


def test_nothing_is_known_after_a_good_night_an_unpinned_streak_or_a_rewritten_history():
    pinned = _night(2, "bad", "pinned", "c0ffee" * 6, a=BAD)
    assert _known([pinned, _night(3, "good", "good", a=GOOD)], _tonight(a=BAD)) is None  # fixed, broken again
    assert _known([_night(2, "bad", "not_pinned", a=BAD)], _tonight(a=BAD)) is None
    assert _known([pinned], _tonight(a=BAD), in_history=lambda sha: False) is None
    # an interrupted or untestable night in between says nothing about the port
    interrupted = Night(**{**_night(3, "bad", None).__dict__, "phase": "hunting"})
    skipped = _night(4, "skip", "untestable")
    assert _known([pinned, interrupted, skipped], _tonight(a=BAD)).nothing_new


def test_a_newly_bad_scenario_is_new_and_hunted_from_where_it_was_last_good():
    earlier = [_night(1, "good", "good", a=GOOD, b=GOOD),
               _night(2, "bad", "pinned", "c0ffee" * 6, a=BAD, b=GOOD),
               _night(3, "bad", "known", "c0ffee" * 6, a=BAD, b=GOOD)]
    known = _known(earlier, _tonight(a=BAD, b=BAD))
    assert known.newly_bad == ("b",) and not known.nothing_new
    assert last_good_for(earlier, known.newly_bad, lambda sha: True) == "tip3"
    assert last_good_for(earlier, ("a",), lambda sha: True) == "tip1"


@pytest.mark.parametrize("tonight, worse", [
    (("bad", 0.95 - 0.0011, 1.5), True),    # correlation fell by more than 1 - min_correlation
    (("bad", 0.95 - 0.0009, 1.5), False),
    (("bad", 0.95, 1.5 + 0.0051), True),    # |sum_ratio - 1| grew by more than max_sum_ratio_error
    (("bad", 0.95, 1.5 - 0.2), False),      # better is not news
    (("bad", None, None), True),            # measured before, unusable now
])
def test_a_scenario_bad_in_both_is_news_only_when_markedly_worse(tonight, worse):
    earlier = [_night(2, "bad", "pinned", "c0ffee" * 6, a=BAD)]
    assert _known(earlier, _tonight(a=tonight)).worse == (("a",) if worse else ())


# --- end to end: real repositories, real scoring, a real ledger --------------------------------

# "centre" sees only the middle of the detector, where the edge regression changes nothing.
CENTRE = ('[tool.bisector.scenarios.centre]\n'
          'args = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 8 -pixel 0.4"')
D = Change("docs")
HISTORY = [D, Change("refactor"), D, Change("regress", how="edge"), D, Change("regress", how="scale"), D]
EDGE, SCALE = 3, 5  # shas[i] is history[i]


@pytest.mark.slow
def test_a_known_regression_is_reported_once_and_a_new_one_on_top_is_hunted(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    port = make_port_repo(tmp_path / "port", history=HISTORY, extra_toml=CENTRE)
    night_tips = [port.shas[2], port.shas[4], port.shas[4], port.head]

    def night(n: int) -> tuple[int, dict, ET.Element]:
        subprocess.run(["git", "-C", str(port.path), "branch", "-f", "nightly", night_tips[n - 1]], check=True)
        out = tmp_path / f"n{n}"
        code = main(["nightly", "--repo", str(port.path), "--branch", "nightly", "--out", str(out)])
        return code, json.loads((out / "nightly.json").read_text()), ET.parse(out / "junit.xml").getroot()

    assert night(1)[0] == ALL_GOOD
    code, report, _ = night(2)
    assert code == PINNED and report["culprit"] == port.shas[EDGE] and report["new"] is True

    code, report, junit = night(3)  # the same tip, still bad: known, not hunted again
    assert code == KNOWN == 6
    assert report["outcome"] == "known" and report["new"] is False and report["hunted_from"] is None
    assert report["known"] == f"still bad since night 2, culprit {port.shas[EDGE][:10]}"
    assert not (tmp_path / "n3" / "hunt").exists()
    (failed,) = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert failed.get("name") == "small"
    assert failed.find("properties/property[@name='new']").get("value") == "false"

    code, report, junit = night(4)  # the scale slip breaks "centre" too: new, hunted on it alone
    assert code == PINNED, report["conclusion"]
    assert report["new"] is True and report["newly_bad"] == ["centre"]
    assert report["culprit"] == port.shas[SCALE] and report["hunted_from"] == port.shas[4]
    news = {case.get("name"): case.find("properties/property[@name='new']").get("value")
            for case in junit.iter("testcase")}
    assert news == {"centre": "true", "small": "false"}

    with Ledger(default_path(port.path)) as ledger:
        assert [n.outcome for n in ledger.nights()] == ["good", "pinned", "known", "pinned"]
