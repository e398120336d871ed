"""`bisector demo`: the generated port history, its ground truth, and hunts through it.

The port's images are compared with the C twin (simkernel.cref) and, at 128^2, with the
golden images made by the real nanoBragg program, so the numbers checked here are
independent of the port's own code.
"""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
from rich.console import Console

from bisector import git
from bisector.api import run_bisect
from bisector.cli.console import ConsoleHandler
from bisector.cli import main as cli_main
from bisector.config import ConfigOverrides
from bisector.demo import DemoError, generate, run_demo
from bisector.errors import EndpointError
from simkernel import cref

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
SIZE = 64
SEED = 7
GOLDEN_ARGS = {  # the golden cases' argv (physics sheet, section 13)
    "01_base": "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 -detpixels 128",
    "02_oversample2": "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -distance 100 "
                      "-detpixels 128 -oversample 2",
}

# Runs the port's own `python -m nbport` once per job, every commit's tree in turn in one
# process (one torch import for all): argv[1] is a JSON list of [tree, [args...]]. Each job
# imports the tree's nbport afresh (the previous tree's modules are dropped first); the port
# keeps no torch state between runs. Prints one JSON line per job: its exit code and, when
# it raised instead, the exception as a traceback would end.
_RUN_TREES = """
import json, runpy, sys
for tree, args in json.loads(sys.argv[1]):
    for name in [m for m in sys.modules if m == "nbport" or m.startswith("nbport.")]:
        del sys.modules[name]
    sys.path.insert(0, tree + "/src")
    sys.argv = ["nbport", *args]
    try:
        runpy.run_module("nbport", run_name="__main__", alter_sys=True)
        outcome = {"code": 0, "error": ""}
    except SystemExit as stop:
        outcome = {"code": stop.code or 0, "error": ""}
    except Exception as exc:
        outcome = {"code": 1, "error": f"{type(exc).__name__}: {exc}"}
    sys.path.remove(tree + "/src")
    print(json.dumps(outcome), flush=True)
"""


def _run_trees(jobs: list[tuple[Path, list[str]]]) -> list[dict]:
    """Run the port of each exported tree with its args (see _RUN_TREES): [{code, error}]."""
    proc = subprocess.run([sys.executable, "-c", _RUN_TREES, json.dumps([[str(t), a] for t, a in jobs])],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(jobs), proc.stdout[-2000:]
    return outcomes


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("demo") / "port", commits=200, size=SIZE, seed=SEED)


@pytest.fixture(scope="module")
def scenarios(demo_repo) -> dict[str, str]:
    """The scenario arguments of the port's [tool.bisector] at the tip."""
    table = tomllib.loads((demo_repo.path / "pyproject.toml").read_text())["tool"]["bisector"]
    return {name: spec["args"] for name, spec in table["scenarios"].items()}


@pytest.fixture(scope="module")
def references(scenarios) -> dict[str, np.ndarray]:
    return {name: cref.simulate(args.split()) for name, args in scenarios.items()}


def _export(repo, sha: str, dest: Path) -> Path:
    git.export(repo.path, sha, ["src"], dest)
    return dest


def _render_commits(repo, shas: dict[str, str], argv: dict[str, dict[str, str]], tmp_path: Path) -> dict:
    """{label: {name: image}} for each commit, rendering ``argv[label]`` ({name: args}) with
    the commit's own port (all in one process: see _RUN_TREES)."""
    jobs, where = [], []
    for label, sha in shas.items():
        tree = _export(repo, sha, tmp_path / label)
        for i, (name, args) in enumerate(argv[label].items()):
            jobs.append((tree, [*args.split(), "-floatfile", str(tree / f"{i}.bin")]))
            where.append((label, name, tree / f"{i}.bin"))
    images: dict = {label: {} for label in shas}
    for (label, name, out), outcome in zip(where, _run_trees(jobs)):
        assert outcome == {"code": 0, "error": ""}, (label, name, outcome)
        data = np.fromfile(out, dtype="<f4")
        side = math.isqrt(data.size)
        images[label][name] = data.reshape(side, side)
    return images


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


def _sum_ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(a.astype(np.float64).sum() / b.astype(np.float64).sum())


# --- the generator ----------------------------------------------------------------------

def test_every_report_folder_bisector_writes_is_ignored_in_the_port(demo_repo):
    for command in ("bisect", "scan", "nightly", "verify", "compare", "audit"):
        folder = demo_repo.path / "reports" / command / "20261203T000000Z"
        folder.mkdir(parents=True)
        (folder / "summary.md").write_text("a report\n")
    status = subprocess.run(["git", "-C", str(demo_repo.path), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    shutil.rmtree(demo_repo.path / "reports")  # the port is shared by this module's tests
    assert status == ""


def test_same_seed_gives_the_same_commits(tmp_path, demo_repo):
    again = generate(tmp_path / "again", commits=200, size=SIZE, seed=SEED)
    other = generate(tmp_path / "other", commits=200, size=SIZE, seed=SEED + 1)
    assert again.history == demo_repo.history
    assert again.shas == demo_repo.shas
    assert other.history[-1] != demo_repo.history[-1]


def test_history_is_mostly_docs_with_a_few_dozen_source_commits(demo_repo):
    log = git.out(demo_repo.path, "log", "--format=@%H", "--name-only")
    touched: dict[str, list[str]] = {}
    for line in log.splitlines():
        if line.startswith("@"):
            current = touched.setdefault(line[1:], [])
        elif line:
            current.append(line)
    assert len(touched) == len(demo_repo.history) == 200
    docs_only = [sha for sha, files in touched.items()
                 if all(f.startswith(("docs/", "reports/")) or f == "README.md" for f in files)]
    source = [sha for sha, files in touched.items() if any(f.startswith("src/") for f in files)]
    assert len(docs_only) >= 0.7 * len(touched)
    assert 30 <= len(source) <= 50
    assert set(source) == set(demo_repo.source_commits)


def test_roles_come_in_story_order(demo_repo):
    order = [demo_repo.history.index(demo_repo.shas[role]) for role in (
        "first_good", "import_break", "import_fix", "unit_slip", "unit_slip_fix", "perf",
        "benchmark_change", "half_pixel", "half_pixel_fix", "oversample_norm", "oversample_norm_fix")]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert demo_repo.tip == demo_repo.history[-1]
    for regression in demo_repo.regressions:
        h = demo_repo.history.index
        assert h(regression.good) < h(regression.culprit) <= h(regression.bad) < h(regression.fix)
    # the import-broken stretch is a run of consecutive source commits inside the first bracket
    stretch = [demo_repo.source_commits.index(sha) for sha in demo_repo.broken_import]
    assert 3 <= len(stretch) <= 5 and stretch == list(range(stretch[0], stretch[0] + len(stretch)))
    first = demo_repo.regression("unit_slip")
    assert demo_repo.history.index(first.good) < demo_repo.history.index(demo_repo.broken_import[0])
    assert demo_repo.history.index(demo_repo.broken_import[-1]) < demo_repo.history.index(first.culprit)


def test_the_ports_benchmark_size_changes_mid_history_outside_src(demo_repo):
    def bench_args(sha):
        text = git.out(demo_repo.path, "show", f"{sha}:pyproject.toml")
        return tomllib.loads(text)["tool"]["bisector"]["scenarios"]["benchmark"]["args"]

    change = demo_repo.shas["benchmark_change"]
    assert bench_args(demo_repo.first_good).endswith(f"-detpixels {SIZE // 2}")
    assert bench_args(demo_repo.tip).endswith(f"-detpixels {SIZE}")
    assert sorted(git.changed_files(demo_repo.path, change)) == ["pyproject.toml", "scripts/benchmark.sh"]
    assert f"-detpixels {SIZE} " in (demo_repo.path / "scripts" / "benchmark.sh").read_text()


def test_the_import_broken_stretch_really_fails_to_import(demo_repo, tmp_path):
    args = GOLDEN_ARGS["01_base"].replace("128", "32").split()
    labels = [*(f"broken{i}" for i in range(len(demo_repo.broken_import))), "fixed"]
    shas = [*demo_repo.broken_import, demo_repo.shas["import_fix"]]
    jobs = [(_export(demo_repo, sha, tmp_path / label),
             [*args, "-floatfile", str(tmp_path / label / "out.bin"), "-nopgm", "-nonoise", "-noprogress"])
            for label, sha in zip(labels, shas)]
    for label, outcome in zip(labels, _run_trees(jobs)):
        if label == "fixed":
            assert outcome == {"code": 0, "error": ""}, outcome
        else:
            assert outcome == {"code": 1, "error": "ModuleNotFoundError: No module named 'nbport.units'"}, (label, outcome)


def test_a_non_empty_dir_is_refused_and_left_alone(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DemoError, match="not empty"):
        run_demo(dir=tmp_path, commits=200, size=SIZE)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_cli_refuses_too_few_commits(capsys, tmp_path):
    assert cli_main(["demo", "--commits", "10", "--dir", str(tmp_path / "d")]) == 2
    assert "too few" in capsys.readouterr().err


def test_cli_refuses_an_unknown_regression_before_generating_anything(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cli_main(["demo", "--regression", "half_pxel"]) == 2
    err = capsys.readouterr().err
    assert "no regression named 'half_pxel'" in err and "half_pixel" in err and "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # nothing generated, not even the demo folder


# --- the port's numbers -----------------------------------------------------------------

@pytest.fixture(scope="module")
def rendered(demo_repo, scenarios, tmp_path_factory) -> dict:
    """{label: {scenario: image}}: the port's own images at first_good, the tip and each
    regression's culprit; first_good also renders the golden cases."""
    commits = {"first_good": demo_repo.first_good, "tip": demo_repo.tip,
               **{r.name: r.culprit for r in demo_repo.regressions}}
    assert not set(GOLDEN_ARGS) & set(scenarios)
    argv = {label: {**scenarios, **(GOLDEN_ARGS if label == "first_good" else {})} for label in commits}
    return _render_commits(demo_repo, commits, argv, tmp_path_factory.mktemp("render"))


def test_port_at_first_good_matches_the_golden_images(rendered):
    images = rendered
    for case in GOLDEN_ARGS:
        golden = np.load(GOLDEN / f"{case}.npy")
        image = images["first_good"][case]
        assert image.shape == golden.shape
        assert _corr(image, golden) >= 0.99999
        assert abs(_sum_ratio(image, golden) - 1) < 1e-5
        assert np.unravel_index(np.argmax(image), image.shape) == np.unravel_index(np.argmax(golden), golden.shape)


def test_each_regression_misses_the_threshold_with_its_own_kind_of_number(scenarios, references, rendered):
    images = rendered

    def numbers(label, scenario):
        image, ref = images[label][scenario], references[scenario]
        assert image.shape == ref.shape
        return _corr(image, ref), _sum_ratio(image, ref)

    for label in ("first_good", "tip"):
        for scenario in scenarios:
            corr, ratio = numbers(label, scenario)
            assert corr >= 0.9999 and abs(ratio - 1) < 1e-3, (label, scenario, corr, ratio)
    # (a) unit slip: the image is wrecked (no resemblance, far too bright)
    corr, ratio = numbers("unit_slip", "benchmark")
    assert abs(corr) < 0.5 and ratio > 5
    # (b) half-pixel beam centre: looks fine by eye, correlation about 0.99, total intensity right
    corr, ratio = numbers("half_pixel", "benchmark")
    assert 0.98 < corr < 0.999 and abs(ratio - 1) < 0.01
    # (c) oversample normalisation: the benchmark is untouched, -oversample 2 is exactly 2x too bright
    corr, ratio = numbers("oversample_norm", "benchmark")
    assert corr >= 0.9999 and abs(ratio - 1) < 1e-3
    corr, ratio = numbers("oversample_norm", "oversample")
    assert corr >= 0.9999 and ratio == pytest.approx(2.0, rel=1e-3)


# --- end to end: bisector hunts through the generated history -----------------------------

@pytest.fixture(scope="module")
def bisect_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="module")
def hunt(tmp_path_factory, bisect_cache):
    """The demo itself on a small repository, judging the benchmark only (to keep it quick),
    with --narrow (the culprit then narrowed to its hunks; the hunt is the same)."""
    console = Console(file=io.StringIO(), width=200)
    outcome = run_demo(dir=tmp_path_factory.mktemp("hunt") / "port", commits=300, size=SIZE, seed=SEED,
                       console=console, cache_dir=bisect_cache, scenarios=["benchmark"], narrow=True)
    return outcome, console.file.getvalue()


def _overrides(cache, scenarios) -> ConfigOverrides:
    return ConfigOverrides(c_bin=str(cref.binary()), cache_dir=str(cache), scenarios=scenarios)


@pytest.mark.slow
def test_demo_finds_the_first_regression_and_says_so(hunt):
    outcome, printed = hunt
    injected = outcome.repo.regression("unit_slip").culprit
    assert outcome.culprit == injected and outcome.found
    assert "bisector found the injected commit" in printed
    assert f"--good {outcome.regression.good}" in printed.replace("\n", " ")
    assert outcome.report_dir is not None and outcome.report_dir.is_dir()
    assert outcome.report_dir.is_relative_to(outcome.repo.path)  # no shared folder of bundles
    assert printed.count("report: ") == 1


@pytest.mark.slow
def test_demo_narrow_names_the_injected_hunk_among_five(hunt):
    outcome, printed = hunt
    assert outcome.found and outcome.narrowed_right, printed
    n = outcome.narrowing
    assert [h.path for h in n.hunks] == ["src/nbport/cli.py"] * 3 + ["src/nbport/params.py", "src/nbport/simulator.py"]
    (place,) = [n.places[i] for i in n.minimal]
    assert place.path == "src/nbport/cli.py" and place.function == "parse_args"
    assert n.complement is not None and n.complement.outcome.value == "pass"
    assert n.search.tests <= n.bound
    assert "narrow named the injected hunk" in printed
    assert "## Narrowing" in (outcome.report_dir / "culprit_summary.md").read_text()


@pytest.mark.slow
def test_the_reproduce_line_after_a_demo_works(hunt, tmp_path):
    outcome, printed = hunt
    line = next(line for line in printed.splitlines() if line.startswith("reproduce with: "))
    argv = shlex.split(line.removeprefix("reproduce with: "))
    assert Path(argv[0]).name == "bisector" and argv[1:3] == ["score", outcome.culprit]
    assert str(outcome.repo.path) in argv
    # A real process: the command as printed, pasted into a fresh shell, is the point.
    proc = subprocess.run(argv, env=_without_the_venv_on_path(tmp_path), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # the culprit is bad, as the hunt said
    assert f"{outcome.culprit[:12]}: bad" in proc.stdout


@pytest.mark.slow
def test_the_hunt_the_demo_prints_works_when_pasted(hunt, bisect_cache, tmp_path):
    outcome, printed = hunt
    lines = printed.splitlines()
    argv = shlex.split(lines[lines.index(next(x for x in lines if x.endswith("hunt by hand with:"))) + 1])
    assert argv == shlex.split(outcome.user_command) and "--c-bin" in argv
    # What is checked is the command, not a cold cache: the user's cache is the one the demo
    # hunt left (the same judge, so its scores are found), and the culprit and its parent are
    # run fresh all the same to confirm.
    env = _without_the_venv_on_path(tmp_path)
    shutil.copytree(bisect_cache, Path(env["XDG_CACHE_HOME"]) / "bisector")
    proc = subprocess.run([*argv, "--report-dir", str(tmp_path / "reports")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr  # found and confirmed, as the demo said
    assert "reproduce with: " in proc.stderr and outcome.culprit in proc.stderr


def _without_the_venv_on_path(tmp_path: Path) -> dict[str, str]:
    """A fresh shell after the README's install: bisector's bin folder is not on PATH."""
    bin_dir = Path(sys.executable).parent.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "NB_C_BIN"}
    env["PATH"] = os.pathsep.join(d for d in env["PATH"].split(os.pathsep) if d and Path(d).resolve() != bin_dir)
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), COLUMNS="400")
    return env


@pytest.mark.slow
def test_demo_skips_the_import_broken_stretch(hunt):
    outcome, _ = hunt
    visited = [r for r in outcome.records if r.commit in outcome.repo.broken_import]
    assert visited, "the bisection never landed in the import-broken stretch"
    assert {r.verdict.value for r in visited} == {"skip"}


@pytest.mark.slow
@pytest.mark.parametrize("name, scenario", [
    ("half_pixel", "benchmark"),
    ("oversample_norm", "oversample"),  # only the oversample scenario sees this one
])
def test_bisect_finds_each_later_regression(hunt, bisect_cache, name, scenario):
    repo = hunt[0].repo
    regression = repo.regression(name)
    result = run_bisect(repo.path, regression.good, regression.bad, report_root=repo.path / "reports" / "bisect",
                        overrides=_overrides(bisect_cache, [scenario]),
                        handler=ConsoleHandler(Console(file=io.StringIO())))
    assert result.culprit == regression.culprit and result.confirmed


@pytest.mark.slow
def test_bisect_refuses_a_bad_endpoint_that_is_good(hunt, bisect_cache):
    repo = hunt[0].repo
    fixed = repo.regression("unit_slip").fix
    with pytest.raises(EndpointError) as refused:
        run_bisect(repo.path, repo.first_good, fixed, report_root=repo.path / "reports" / "bisect",
                   overrides=_overrides(bisect_cache, ["benchmark"]), handler=ConsoleHandler(Console(file=io.StringIO())))
    message = refused.value.message
    assert f"bad endpoint {fixed[:10]} is good" in message and "correlation 1.0000" in message
