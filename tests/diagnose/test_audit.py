"""audit on generated evidence folders: good and bad runs, gaps in provenance, other shapes."""

from __future__ import annotations

import json
import shlex

import pytest

from bisector.cli import main
from bisector.config import Thresholds
from bisector.diagnose.audit import collect, param_diff
from portrepo import Change, make_port_repo, scenario_args

SHA_GOOD = "0123456789abcdef0123456789abcdef01234567"
SHA_BAD = "fedcba9876543210fedcba9876543210fedcba98"


def _write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data)
    (folder / name).write_text(text)


def _bench(size, corr_warm, corr_cold=None, **extra):
    record = {"size": size, "correlation_warm": corr_warm, "c_time": 1.2, "py_time_warm": 0.4,
              "speedup_warm": 3.0, **extra}
    if corr_cold is not None:
        record["correlation_cold"] = corr_cold
    return record


def _env(device="cpu", dtype="float64", torch="2.3.0", sha=None, threads="4"):
    env = {"device": device, "dtype": dtype, "packages": {"torch": torch, "numpy": "1.26.4"},
           "env": {"OMP_NUM_THREADS": threads}}
    if sha:
        env["git_sha"] = sha
    return env


@pytest.fixture
def evidence(tmp_path):
    root = tmp_path / "reports"
    # Good: CPU float64 benchmarks, both with a git sha.
    good1 = root / "20240101T100000Z"
    _write(good1, "benchmark.json", [_bench(1024, 0.99998, 0.99997), _bench(4096, 0.99995, 0.99994)])
    _write(good1, "env.json", _env(sha=SHA_GOOD))
    _write(good1, "commands.txt", "OMP_NUM_THREADS=4 nbport -default_F 100 -N 5 -distance 100 -detpixels 4096\n")
    good2 = root / "runs" / "compare-a"
    _write(good2, "summary.json", {"correlation": 0.99999, "sum_ratio": 1.0002, "timestamp": "2024-01-02T09:00:00"})
    _write(good2, "env.json", _env(sha=SHA_GOOD))
    _write(good2, "commands.txt", "nbport -default_F 100 -N 5 -distance 100 -detpixels 4096\n")
    # Bad: a GPU float32 run without a sha, and a summary whose sum ratio is off.
    bad1 = root / "20240105T120000Z"
    _write(bad1, "benchmark.json", [_bench(4096, 0.71, 0.70)])
    _write(bad1, "env.json", _env(device="cuda", dtype="float32", torch="2.4.0", threads="8"))
    _write(bad1, "commands.txt", "OMP_NUM_THREADS=8 nbport -default_F 100 -N 5 -distance 1000 -detpixels 4096\n")
    bad2 = root / "runs" / "compare-b"
    _write(bad2, "summary.json", {"correlation": 0.9999, "sum_ratio": 1.5, "git_sha": SHA_BAD})
    # Other shapes, to be skipped with reasons.
    _write(root / "junk", "truncated.json", '[{"size": 1024, "correlation_warm": 0.9')
    _write(root / "junk", "malformed.json", "{'single': quotes}")
    _write(root / "junk", "empty.json", "")
    _write(root / "junk", "numbers.json", [1, 2, 3])
    _write(root / "junk", "config.json", {"name": "x"})
    # A record without correlation: a run without verdict.
    _write(root / "partial", "bench.json", [{"size": 512, "c_time": 0.3}])
    return root


def test_every_run_verdict_and_gap_is_reported(evidence, tmp_path, capsys):
    assert main(["audit", str(evidence), "--report-dir", str(tmp_path / "out")]) == 0
    (folder,) = list((tmp_path / "out").iterdir())
    matrix = (folder / "artifact_matrix.md").read_text()
    rows = [line for line in matrix.splitlines() if line.startswith("| `")]
    run_rows = [r for r in rows if ".json" in r and ("good" in r or "bad" in r or "unknown" in r)]
    assert len(run_rows) == 6  # two records + one summary good; one record + one summary bad; one unknown
    assert "| `20240101T100000Z/benchmark.json[1]` | 20240101T100000Z | 4096 | 0.999950 (cold 0.999940) |" in matrix
    assert "`runs/compare-a/summary.json` | 2024-01-02T09:00:00 |" in matrix
    row_bad_gpu = next(r for r in rows if "20240105T120000Z" in r)
    assert "bad: correlation 0.710000 < 0.999" in row_bad_gpu and "no provenance" in row_bad_gpu
    row_bad_ratio = next(r for r in rows if "compare-b" in r)
    assert "sum ratio 1.500000 off by more than 0.005" in row_bad_ratio and f"`{SHA_BAD[:12]}`" in row_bad_ratio
    for name, why in (("truncated.json", "truncated JSON"), ("malformed.json", "malformed JSON"),
                      ("empty.json", "empty file"), ("numbers.json", "without benchmark records"),
                      ("config.json", "without correlation or sum_ratio")):
        assert any(name in r and why in r for r in rows), name

    diff = (folder / "param_diff.md").read_text()
    assert "| device | `device` | `cpu` x3 |" in diff and "`cuda`" in diff
    assert "| dtype | `dtype` | `float64` x3 |" in diff and "`float32`" in diff
    assert "| simulator arguments | `arg.-distance` | `100` x3 | `1000`" in diff
    assert "| environment variables | `env.OMP_NUM_THREADS` |" in diff
    assert "| library versions | `packages.torch` | `2.3.0` x3 |" in diff
    assert "`arg.-detpixels`" not in diff  # the same in every run: not a difference
    assert "runs record no git sha" in diff and "20240105T120000Z/benchmark.json" in diff
    assert "record no correlation" in diff and "partial/bench.json" in diff
    out = capsys.readouterr().out
    assert "6 runs: 3 good, 2 bad, 1 unknown; 5 files skipped" in out


def test_thresholds_change_verdicts(evidence):
    loose = collect(evidence, Thresholds(min_correlation=0.5, max_sum_ratio_error=0.6))
    assert [r.verdict for r in loose.runs].count("bad") == 0
    assert "Nothing to compare: there are no bad runs." in "\n".join(param_diff(loose))


@pytest.mark.parametrize("setup, message", [
    ("missing", "does not exist"),
    ("file", "is not a folder"),
    ("empty", "no JSON files"),
    ("only_junk", "none of them a result"),
])
def test_bad_folders_are_one_line_messages(tmp_path, capsys, setup, message):
    target = tmp_path / "reports"
    if setup == "file":
        target.write_text("x")
    elif setup == "empty":
        target.mkdir()
    elif setup == "only_junk":
        _write(target, "broken.json", "{")
    assert main(["audit", str(target), "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# --- hostile inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [100_000, 500, 101])
def test_deeply_nested_json_is_skipped_with_its_reason(tmp_path, capsys, depth):
    root = tmp_path / "reports"
    _write(root / "ok", "summary.json", {"correlation": 0.99999, "sum_ratio": 1.0})
    _write(root / "deep", "summary.json", "[" * depth + "]" * depth)
    # Deep where a run's context is read too: env.json beside a real result.
    _write(root / "ctx", "summary.json", {"correlation": 0.5, "sum_ratio": 1.0})
    _write(root / "ctx", "env.json", '{"a": ' + "[" * depth + "]" * depth + "}")
    assert main(["audit", str(root), "--report-dir", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "2 runs: 1 good, 1 bad" in captured.out and "2 files skipped" in captured.out
    assert "Traceback" not in captured.err
    matrix = next((tmp_path / "out").rglob("artifact_matrix.md")).read_text()
    assert "| `deep/summary.json` | JSON nested deeper than 100 levels: not a result |" in matrix
    assert "| `ctx/env.json` | JSON nested deeper than 100 levels: not a result |" in matrix


def test_only_deeply_nested_json_is_bad_input(tmp_path, capsys):
    root = tmp_path / "reports"
    _write(root, "deep.json", "{\"a\": " * 100_000 + "1" + "}" * 100_000)
    assert main(["audit", str(root), "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "found no benchmark results" in err and "nested deeper than 100 levels" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2


def _rows(table_text: str) -> list[list[str]]:
    """The cells of each Markdown table row, split at unescaped pipes as a renderer does."""
    import re

    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in table_text.splitlines() if line.startswith("|")]


def test_newlines_and_pipes_in_names_stay_inside_their_table_cells(tmp_path, capsys):
    root = tmp_path / "reports"
    odd = root / "run|a\nnext line"
    _write(odd, "summary.json", {"correlation": 0.5, "sum_ratio": 1.0})
    _write(odd, "commands.txt", "nbport -detpixels 64|128\n")
    _write(root / "good`run", "summary.json", {"correlation": 0.99999, "sum_ratio": 1.0})
    _write(root / "good`run", "commands.txt", "nbport -detpixels 64\n")
    _write(root / "junk\x1b[31m", "x.json", [1])
    assert main(["audit", str(root), "--report-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    folder = next((tmp_path / "out").iterdir())
    for name in ("artifact_matrix.md", "param_diff.md"):
        text = (folder / name).read_text()
        assert "\x1b" not in text
        rows = _rows(text)
        for header, *body in _tables(text):
            assert all(len(r) == len(header) for r in body), (name, header, body)
        assert rows
    matrix = (folder / "artifact_matrix.md").read_text()
    assert "| `run\\|a next line/summary.json` |" in matrix
    assert "| `` good`run/summary.json `` |" in matrix
    assert "`junk\\x1b[31m/x.json`" in matrix
    assert "`64\\|128`" in (folder / "param_diff.md").read_text()


def _tables(text: str) -> list[list[list[str]]]:
    """Each Markdown table of ``text`` as rows of cells (separator row left out)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                current.append(_rows(line)[0])
        elif current:
            tables.append(current)
            current = []
    return tables


# --- bisector's own reports, written by the real commands -------------------------------------

@pytest.fixture(scope="module")
def port_reports(tmp_path_factory):
    """A 32x32 port whose last commit regresses (image x1.5), and the reports of run, narrow,
    score --json, compare, nightly, scan and verify on it, under the port's reports/ folder."""
    tmp = tmp_path_factory.mktemp("own")
    port = make_port_repo(tmp / "port", history=[Change("docs"), Change("regress", how="scale")], size=32)
    reports = port.path / "reports"
    repo = ["--repo", str(port.path)]
    assert main(["run", *repo, "--good", port.base, "--report-dir", str(reports / "bisect")]) == 0
    assert main(["narrow", *repo, "--report-dir", str(reports / "bisect")]) == 0
    score = tmp / "score.out"
    with open(score, "w") as out, _stdout_to(out):
        assert main(["score", *repo, "--json", port.head]) == 1
    (reports / "score").mkdir()
    (reports / "score" / "head.json").write_text(score.read_text())
    assert main(["compare", *repo, "--ref", "simkernel", "--scenario", "small",
                 "--report-dir", str(reports / "compare")]) == 1
    assert main(["nightly", *repo, "--report-dir", str(reports / "nightly")]) == 5  # no good night known
    assert main(["scan", *repo, "--good", port.base, "--report-dir", str(reports / "scan")]) == 0
    assert main(["verify", *repo, "--report-dir", str(reports / "verify")]) == 1
    return port, reports


def _stdout_to(stream):
    import contextlib

    return contextlib.redirect_stdout(stream)


@pytest.mark.slow
def test_every_report_bisector_writes_is_read_with_its_provenance(port_reports, tmp_path, capsys):
    port, reports = port_reports
    assert main(["audit", str(reports), "--report-dir", str(tmp_path / "out")]) == 0
    audit = collect(reports)
    assert audit.skipped == []
    by_file = {}
    for run in audit.runs:
        by_file.setdefault(run.source.split("/")[0], []).append(run)
    assert set(by_file) == {"bisect", "score", "compare", "nightly", "scan", "verify"}
    # Every run names the commit it measured; the regressed head is bad, the base good.
    narrowed = [r for r in audit.runs if "/narrow.json" in r.source]
    for run in audit.runs:
        assert run.git_sha in (port.head, port.base, port.shas[0]), run.source
        if run not in narrowed:
            assert run.verdict == ("bad" if run.git_sha == port.head else "good"), run.source
    # A narrowing's trials score the parent with some of the culprit's hunks: the hunks decide.
    assert {r.git_sha for r in narrowed} == {port.shas[0], port.head}
    for run in narrowed:
        assert run.verdict == ("good" if run.context["hunks on the parent"] == "none" else "bad"), run.source
    assert {r.context["hunks on the parent"] for r in narrowed} >= {"none", "all", "1"}
    assert {port.base, port.head} <= {r.git_sha for r in by_file["bisect"]}
    (compare,) = by_file["compare"]
    assert compare.git_sha == port.head and compare.sum_ratio == pytest.approx(1.5, rel=1e-4)
    (night,) = by_file["nightly"]
    assert night.git_sha == port.head and night.context["scenario"] == "small"
    (verify,) = by_file["verify"]
    assert verify.git_sha == port.head and verify.verdict == "bad" and verify.correlation is None
    # What went in: the scenario's whole arguments, its reference and thresholds where recorded.
    args = shlex.split(scenario_args(32))
    bundle = next(r for r in by_file["bisect"] if "/results.json" in r.source)
    assert bundle.context["args"] == shlex.join(args)
    assert bundle.context["arg.-detpixels"] == "32"
    assert bundle.context["reference.kind"] == "simkernel"
    assert bundle.context["thresholds.min_correlation"] == "0.999"
    assert compare.context["args"] == shlex.join(args) and compare.context["reference.kind"] == "simkernel"
    assert by_file["scan"][0].context["thresholds.max_sum_ratio_error"] == "0.005"
    assert by_file["score"][0].context["reference"].startswith("simkernel")
    # What came out stays apart from what went in.
    assert "peaks.matched" in compare.outputs and "regions.centre_correlation" in compare.outputs
    assert not any(k.startswith(("peaks", "regions")) for k in compare.context)
    matrix = next((tmp_path / "out").rglob("artifact_matrix.md")).read_text()
    assert "no provenance" not in matrix
    assert f"| `compare/{compare.source.split('/')[1]}/summary.json` |" in matrix
    bad = sum(r.git_sha == port.head or r.context.get("hunks on the parent") == "1" for r in audit.runs)
    assert f"{len(audit.runs)} runs: {len(audit.runs) - bad} good, {bad} bad, 0 unknown; 0 files skipped" \
        in capsys.readouterr().out


def _input_rows(diff: str) -> str:
    return diff.split("## Inputs whose values differ")[1].split("\n## ")[0]


@pytest.mark.slow
def test_param_diff_lists_outputs_apart_and_shows_a_difference_past_60_characters(port_reports, tmp_path):
    port, reports = port_reports
    root = tmp_path / "reports"
    repo = ["--repo", str(port.path), "--ref", "simkernel"]
    args = shlex.split(scenario_args(32))
    wider = [("64" if a == "32" else a) for a in args]  # only -detpixels differs, past column 60
    assert shlex.join(args).index("-detpixels") > 60
    assert main(["compare", *repo, "--candidate", port.base, "--report-dir", str(root / "good"), "--", *args]) == 0
    assert main(["compare", *repo, "--candidate", port.head, "--report-dir", str(root / "bad"), "--", *wider]) == 1
    assert main(["audit", str(root), "--report-dir", str(tmp_path / "out")]) == 0
    diff = next((tmp_path / "out").rglob("param_diff.md")).read_text()
    inputs = _input_rows(diff)
    assert "| simulator arguments | `arg.-detpixels` | `32` | `64` | separates good from bad |" in inputs
    assert f"| simulator arguments | `args` | `{shlex.join(args)}` | `{shlex.join(wider)}` |" in inputs
    assert "`arg.-pixel`" not in inputs  # the same in both: not a difference
    for output in ("peaks.", "regions.centre_correlation", "rmse", "max_abs_diff", "sum ratio"):
        assert output not in inputs, output
    outputs = diff.split("## Outputs (measured, not parameters)")[1]
    assert "| `regions.centre_correlation` |" in outputs and "| `sum ratio` |" in outputs
    assert "| `peaks.max_distance` |" in outputs or "| `peaks.matched` |" in outputs


def test_bisector_command_lines_are_not_read_as_simulator_arguments(tmp_path):
    root = tmp_path / "reports"
    for name, corr in (("a", 0.99999), ("b", 0.5)):
        _write(root / name, "summary.json", {"correlation": corr, "sum_ratio": 1.0})
        _write(root / name, "commands.txt", f"/opt/venv/bin/bisector score {name * 7} -s small --reference c\n")
    runs = collect(root).runs
    assert all(not any(k.startswith("arg.") for k in r.context) for r in runs)
    assert "## Command lines" in "\n".join(param_diff(collect(root)))


def test_damaged_bisector_reports_are_skipped_with_their_reason(tmp_path, capsys):
    root = tmp_path / "reports"
    _write(root / "ok", "summary.json", {"correlation": 0.99999, "sum_ratio": 1.0})
    _write(root / "bisect", "results.json", {"walk": {}, "config": [], "records": [{"commit": SHA_BAD, "scenarios": 5}]})
    _write(root / "scan", "timeline.json", {"states": [1, {"scenarios": "x"}], "windows": [{"break": []}]})
    _write(root / "verify", "verify.json", {"checks": "x", "commit": SHA_BAD, "passed": False})
    _write(root / "nightly", "nightly.json", {"night": 1, "tip": SHA_BAD, "scenarios": [{"name": []}],
                                              "outcome": "x", "environment": 3})
    assert main(["audit", str(root), "--report-dir", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "2 runs: 1 good, 0 bad, 1 unknown; 3 files skipped" in captured.out
    matrix = next((tmp_path / "out").rglob("artifact_matrix.md")).read_text()
    for name, shape in (("bisect/results.json", "a run's results.json"), ("scan/timeline.json", "a scan's timeline.json"),
                        ("verify/verify.json", "a verify.json")):
        assert f"| `{name}` | {shape} that records no scored scenario |" in matrix
    assert f"| `nightly/nightly.json[night 1 {SHA_BAD[:10]} []]` |" in matrix
