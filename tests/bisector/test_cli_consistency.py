"""The command line is consistent: one option set, --version, honest help, commands it prints work.

Everything runs in this process through ``bisector.cli.main`` (no process is the point here).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import typer

from bisector.cli import app, main
from bisector.cli import options as opt
from bisector.config import Thresholds
from portrepo import Change, make_port_repo


@pytest.fixture
def bisector(bisector_cli):
    """`bisector ARGS` in ``cwd`` with XDG_CACHE_HOME=``xdg`` (and any other variables given)."""
    def run(*args: str, cwd: Path, xdg: Path, **extra_env: str):
        return bisector_cli(*args, cwd=cwd, env={"XDG_CACHE_HOME": str(xdg), **extra_env})
    return run


def _commands(group=None, path=()):
    """Every command of the typer app, by its path (("run",), ("cache", "clear"), ...)."""
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, path + (name,))
        else:
            yield path + (name,), command


def _options(command) -> dict[str, dict]:
    """The visible options of ``command`` by long name, with everything a user sees of them."""
    found = {}
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        names = param.opts + param.secondary_opts
        found[next(n for n in names if n.startswith("--"))] = {
            "names": sorted(names), "type": repr(param.type_descriptor.annotation), "multiple": param.multiple,
            "range": (param.min, param.max), "default": param.default, "required": param.required,
            "help": param.help, "metavar": param.metavar}
    return found


def _by_name() -> dict[str, dict[str, dict]]:
    """long option name -> {command: its definition there}."""
    shared: dict[str, dict[str, dict]] = {}
    for path, command in _commands():
        for name, definition in _options(command).items():
            shared.setdefault(name, {})[" ".join(path)] = definition
    return shared


def test_every_shared_option_is_the_same_everywhere():
    differing = {}
    for name, where in _by_name().items():
        kinds = {repr(sorted(d.items())) for d in where.values()}
        if len(kinds) > 1 and name not in opt.VARIANTS:
            differing[name] = where
    assert differing == {}, "\n".join(f"{name}: {where}" for name, where in differing.items())
    used_twice = {name for name, where in _by_name().items() if len(where) > 1}
    assert {"--repo", "--config", "--c-bin", "--reference", "--timeout", "--scenario", "--paths",
            "--min-correlation", "--max-sum-ratio-error", "--eager", "--paranoid", "--report-dir",
            "--jobs", "--executor", "--ledger", "--good", "--bad"} <= used_twice


def test_every_command_that_judges_takes_every_judging_option():
    # A command that judges images but lacks one of these judges differently from the others
    # with no way to say otherwise (a noisy port needs --repeats wherever it is scored).
    judging = {"--scenario", "--min-correlation", "--max-sum-ratio-error", "--timeout", "--eager", "--repeats",
               "--c-bin", "--reference", "--config", "--repo"}
    options = _by_name()
    judges = set(options["--eager"]) | set(options["--timeout"])  # they run the port (audit, compare run nothing)
    lacking = {cmd: sorted(name for name in judging if cmd not in options[name]) for cmd in judges}
    # compare diagnoses one run pixel by pixel against one reference (its --reference is a side,
    # not a kind): repeating the run would change the image it shows.
    lacking["compare"] = sorted(set(lacking["compare"]) - {"--repeats", "--reference"})
    assert {cmd: names for cmd, names in lacking.items() if names} == {}
    assert {"run", "scan", "score", "nightly", "narrow", "verify"} <= judges


def test_each_declared_variant_really_differs_and_says_why():
    shared = _by_name()
    for name, why in opt.VARIANTS.items():
        definitions = {repr(sorted(d.items())) for d in shared[name].values()}
        assert len(definitions) > 1 and why, name  # else the entry is stale: drop it


def test_shared_options_are_declared_only_in_the_options_module():
    shared = {name for name, where in _by_name().items() if len(where) > 1}
    for module in Path(opt.__file__).parent.glob("*.py"):
        if module.name == "options.py":
            continue
        declared = set(re.findall(r'typer\.Option\(\s*"(--[a-z-]+)', module.read_text()))
        assert not declared & shared, f"{module.name} redeclares {declared & shared}: take them from options.py"


def test_reference_is_typed_everywhere_but_compare():
    where = _by_name()["--reference"]
    assert {cmd for cmd, d in where.items() if "ReferenceKind" in d["type"]} == set(where) - {"compare"}


def test_threshold_defaults_in_help_come_from_the_configuration():
    defaults = Thresholds()
    options = _by_name()
    assert f"{defaults.min_correlation:g}" in options["--min-correlation"]["run"]["help"]
    assert f"{defaults.max_sum_ratio_error:g}" in options["--max-sum-ratio-error"]["run"]["help"]


def test_score_takes_every_judging_option_of_run():
    commands = dict(_commands())
    run, score = set(_options(commands[("run",)])), set(_options(commands[("score",)]))
    only_run = {"--good", "--bad", "--report-dir", "--keep-worktree",  # about a range, not a commit
                "--paranoid", "--jobs", "--executor", "--narrow"}
    assert run - only_run <= score, run - only_run - score


@pytest.mark.parametrize("command", [[], ["run"], ["score"], ["demo"], ["cache", "clear"], ["scan"], ["compare"], ["narrow"]])
def test_flags_show_no_value_placeholder(capsys, command):
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--help" in text and "<bool>" not in text


def test_score_repo_that_does_not_exist(tmp_path, capsys):
    assert main(["score", "--repo", str(tmp_path / "nowhere")]) == 128  # git bisect's abort: never "bad"
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nowhere'} does not exist" in err and "Traceback" not in err


@pytest.fixture
def port(tmp_path):
    return make_port_repo(tmp_path / "port", history=[Change("docs"), Change("regress"), Change("docs")])


def test_score_warns_when_the_relevant_paths_have_uncommitted_changes(port, xdg_cache, bisector):
    physics = port.path / "src" / "nbport" / "physics.py"
    clean = bisector("score", "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert clean.returncode == 1 and "uncommitted" not in clean.stderr, clean.stderr
    physics.write_text(physics.read_text() + "\n# an edit\n")
    (port.path / "docs" / "notes.md").write_text("not relevant\n")
    dirty = bisector("score", "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert dirty.returncode == 1, dirty.stderr
    (warning,) = [line for line in dirty.stderr.splitlines() if "uncommitted" in line]
    assert "src/nbport/physics.py" in warning and "notes.md" not in warning
    other = bisector("score", port.base, "--reference", "simkernel", cwd=port.path, xdg=xdg_cache)
    assert other.returncode == 0 and "uncommitted" not in other.stderr  # not HEAD: nothing to warn of


@pytest.mark.slow
def test_the_reproduce_line_after_run_works_and_names_the_reference(port, tmp_path, c_twin, xdg_cache, bisector):
    (port.path / "pyproject.toml").write_text(  # no reference configured: the flag must carry it
        (port.path / "pyproject.toml").read_text().replace('kind = "simkernel"\n', ""))
    subprocess.run(["git", "-C", str(port.path), "commit", "-qam", "no reference"], check=True)
    run = bisector("run", "-g", port.base, "-b", port.shas[1], "--reference", "simkernel",
                   "--min-correlation", "0.99", "--report-dir", str(tmp_path / "r"), cwd=port.path,
                   xdg=xdg_cache)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("report: ") == 1
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("reproduce with: ")]
    argv = shlex.split(line.removeprefix("reproduce with: "))
    assert Path(argv[0]).name == "bisector" and argv[1:3] == ["score", port.culprit]
    assert "--reference" in argv and argv[argv.index("--reference") + 1] == "simkernel"
    assert argv[argv.index("--min-correlation") + 1] == "0.99"
    # Elsewhere, with a cold cache, and a C program in NB_C_BIN that would otherwise win.
    again = bisector(*argv[1:], "--json", cwd=tmp_path, xdg=tmp_path / "other-xdg", NB_C_BIN=str(c_twin))
    assert again.returncode == 1, again.stderr  # the culprit is bad, as the run said
    assert json.loads(again.stdout)["reference"].startswith("simkernel-")


def test_report_dir_means_the_same_for_nightly(tmp_path, xdg_cache):
    """--report-dir is the folder that gets a new time-stamped report folder, also for nightly."""
    port = make_port_repo(tmp_path / "port", history=[Change("docs")])
    root = tmp_path / "reports"
    for _ in range(2):
        assert main(["nightly", "--repo", str(port.path), "--ledger", str(tmp_path / "ledger.sqlite3"),
                     "--report-dir", str(root)]) == 0
    nights = sorted(root.iterdir())
    assert len(nights) == 2 and all((night / "nightly.json").is_file() for night in nights)
