"""audit on generated evidence folders: good and bad runs, gaps in provenance, other shapes."""

from __future__ import annotations

import json

import pytest

from bisector.cli import main
from bisector.config import Thresholds
from bisector.diagnose.audit import collect, param_diff

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
