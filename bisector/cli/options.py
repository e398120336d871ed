"""The options of the command line, defined once.

Each option is an ``Annotated`` type to use as a parameter's annotation. A command that
takes one of the shared options takes it from here, so that its name, short form, type,
default and help are the same everywhere (tests/bisector/test_cli_consistency.py walks every
command to check). An option whose name means something else in one command is a variant,
declared here with the reason in ``VARIANTS``. The values become configuration overrides
through :func:`overrides_from`. Commands are registered with ``cls=Command`` so that flags
show without a value placeholder in --help.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from ..config import C_BIN_ENV, DEFAULT_TIMEOUT_S, ConfigOverrides, Thresholds
from ..errors import BisectorError


def _no_flag_placeholder(params: list) -> list:
    # A flag takes no value; typer's help would still show it as `--json <bool>`.
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A typer command whose flags (``--keep-worktree``, ``--help``) show no ``<bool>``."""

    def get_params(self, ctx):
        return _no_flag_placeholder(super().get_params(ctx))


class Group(TyperGroup):
    """The same for the top level (``--version``, ``--help``) and for every command under it,
    also those registered without ``cls=Command``."""

    def get_params(self, ctx):
        return _no_flag_placeholder(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _no_flag_placeholder(command.get_params(ctx))
        return command


class ReferenceKind(str, Enum):
    c = "c"
    simkernel = "simkernel"


_DEFAULTS = Thresholds()

# -- shared: every command that takes one of these takes exactly this one ------------------

Good = Annotated[str, typer.Option(
    "--good", "-g", metavar="COMMIT", help="Start of the range: a commit whose image matches the reference.")]
Bad = Annotated[Optional[str], typer.Option(
    "--bad", "-b", metavar="COMMIT", help="End of the range (default: HEAD).")]
Scenarios = Annotated[Optional[list[str]], typer.Option(
    "--scenario", "-s", metavar="NAME", help="Scenario to judge (repeatable; default: all configured).")]
Paths = Annotated[Optional[list[str]], typer.Option(
    "--paths", metavar="PATH", help="Relevant path (repeatable; default from config or src).")]
Repo = Annotated[Optional[Path], typer.Option(
    "--repo", metavar="DIR", help="The port's repository (default: the one containing the current folder).")]
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", metavar="FILE",
    help="TOML file with the [tool.bisector] settings (default: bisector.toml or pyproject.toml).")]
CBin = Annotated[Optional[Path], typer.Option(
    "--c-bin", metavar="PROGRAM",
    help=f"The nanoBragg-compatible C reference program (else {C_BIN_ENV} or config).")]
Reference = Annotated[Optional[ReferenceKind], typer.Option(
    "--reference", help="Where the known-good image comes from: the C program or simkernel.")]
Timeout = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="SECONDS",
    help=f"Seconds per candidate run (default: config, else {DEFAULT_TIMEOUT_S:g}).")]
MinCorrelation = Annotated[Optional[float], typer.Option(
    "--min-correlation", metavar="R",
    help=f"Good needs at least this Pearson correlation (default {_DEFAULTS.min_correlation:g}).")]
MaxSumRatioError = Annotated[Optional[float], typer.Option(
    "--max-sum-ratio-error", metavar="E",
    help=f"Good needs |sum_ratio - 1| at most this (default {_DEFAULTS.max_sum_ratio_error:g}).")]
Eager = Annotated[Optional[bool], typer.Option(
    "--eager/--no-eager", help="Run candidates with TORCH_COMPILE_DISABLE=1: faster, but a regression only in "
                               "compiled code goes unseen (config: eager).")]
Paranoid = Annotated[Optional[bool], typer.Option(
    "--paranoid/--no-paranoid", help="Confirm each side of a culprit with two fresh runs instead of reusing "
                                     "this hunt's fresh results (config: paranoid).")]
Repeats = Annotated[Optional[int], typer.Option(
    "--repeats", metavar="N", min=1,
    help="The port is noisy: run every state at least N times and judge the runs by the noise rule "
         "(config: repeats; states near a threshold are repeated anyway, up to max_repeats).")]
ReportDir = Annotated[Optional[Path], typer.Option(
    "--report-dir", metavar="DIR",
    help="Where reports go: each run adds a time-stamped folder (default: a folder under ./reports).")]
Jobs = Annotated[int, typer.Option(
    "--jobs", "-j", metavar="K", help="Commits scored at once (1: one after the other).")]
Executor = Annotated[Optional[str], typer.Option(
    "--executor", metavar="WHERE", help="Where commits are scored: local, processes, dask-local or dask://HOST:PORT "
                                       "(default: processes when --jobs is over 1).")]
Ledger = Annotated[Optional[Path], typer.Option(
    "--ledger", metavar="FILE", help="The nightly ledger (default: bisector/ledger.sqlite3 in the git directory).")]
CacheDir = Annotated[Optional[Path], typer.Option(
    "--cache-dir", metavar="DIR", help="The cache folder (default: $XDG_CACHE_HOME/bisector or ~/.cache/bisector).")]

ScanBudget = Annotated[Optional[int], typer.Option(
    "--budget", min=2, metavar="N",
    help="Score at most N distinct states (only with --jobs 1); the stretches left are listed, never guessed.")]
Narrow = Annotated[bool, typer.Option(
    "--narrow", help="Then narrow each confirmed culprit to the hunks that break parity (for a scan, each fix "
                     "too: the hunks that restore it); see `bisector narrow`.")]
NarrowBudget = Annotated[int, typer.Option(
    "--budget", min=2, metavar="N", help="At most N scorings of hunk subsets (search, confirmation, complement); "
                                         "ddmin needs at most (n^2 + 3n)/2 for n hunks.")]

# -- variants: the same name, a different meaning in one command (VARIANTS says why) --------

NightlyGood = Annotated[Optional[str], typer.Option(
    "--good", "-g", metavar="COMMIT", help="Hunt from this commit (default: the ledger's last good tip).")]
NightlyBranch = Annotated[Optional[str], typer.Option(
    "--branch", metavar="BRANCH", help="Branch (or commit) whose tip is scored (default: HEAD).")]
HistoryBranch = Annotated[Optional[str], typer.Option(
    "--branch", metavar="BRANCH", help="Only nights of this branch.")]
CompareReference = Annotated[Optional[str], typer.Option(
    "--reference", metavar="c|simkernel|FILE",
    help="The reference side: the C program, simkernel or a saved image (.npy/.bin) (default: as configured).")]
CompareScenario = Annotated[Optional[str], typer.Option(
    "--scenario", "-s", metavar="NAME", help="Use this configured scenario's arguments instead of ARGS.")]

VARIANTS = {
    "--good": "nightly's is optional: the ledger knows the last good tip",
    "--branch": "nightly scores a branch's tip; history filters nights by branch",
    "--reference": "compare's other side can also be a saved image",
    "--scenario": "compare runs one scenario's arguments, it does not judge several",
    "--budget": "scan counts distinct states scored; narrow counts scorings of hunk subsets",
}


def thresholds_from(min_correlation: float | None, max_sum_ratio_error: float | None) -> Thresholds:
    """The thresholds given on the command line, the defaults for the others (for commands
    that judge without a port's configuration, which would check them otherwise)."""
    given = {"min_correlation": min_correlation, "max_sum_ratio_error": max_sum_ratio_error}
    for key, value in given.items():
        if value is not None and not 0 < value <= 1:
            raise BisectorError(f"--{key.replace('_', '-')} must be a number in (0, 1], not {value:g}",
                                hint=f"the default is {getattr(Thresholds(), key):g}")
    return Thresholds(**{key: value for key, value in given.items() if value is not None})

Full = Annotated[bool, typer.Option(
    "--full", help="Judge every scenario on its full run, never by its probe (as a hunt confirms a culprit).")]


def overrides_from(*, c_bin: Path | None = None, paths: list[str] | None = None,
                   scenarios: list[str] | None = None, timeout: float | None = None,
                   min_correlation: float | None = None, max_sum_ratio_error: float | None = None,
                   reference: ReferenceKind | str | None = None, eager: bool | None = None,
                   paranoid: bool | None = None, repeats: int | None = None) -> ConfigOverrides:
    return ConfigOverrides(
        c_bin=str(c_bin) if c_bin else None,
        paths=tuple(paths) if paths else None,
        scenarios=tuple(scenarios) if scenarios else None,
        timeout_s=timeout,
        min_correlation=min_correlation,
        max_sum_ratio_error=max_sum_ratio_error,
        reference_kind=reference.value if isinstance(reference, ReferenceKind) else reference,
        eager=eager,
        paranoid=paranoid,
        repeats=repeats,
    )
