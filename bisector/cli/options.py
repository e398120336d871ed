"""Options shared by several commands, defined once so that `run` and `score` agree.

Each option is an ``Annotated`` type to use as a parameter's annotation; the values are
turned into configuration overrides by :func:`overrides_from`. Commands are registered
with ``cls=Command`` so that flags show without a value placeholder in --help.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from ..config import ConfigOverrides


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


Good = Annotated[str, typer.Option("--good", "-g", help="A commit whose image matches the reference.")]
Bad = Annotated[Optional[str], typer.Option("--bad", "-b", help="A commit whose image does not (default: HEAD).")]
Scenarios = Annotated[Optional[list[str]], typer.Option(
    "--scenario", "-s", help="Scenario to judge (repeatable; default: all configured).")]
Paths = Annotated[Optional[list[str]], typer.Option(
    "--paths", help="Relevant path (repeatable; default from config or src).")]
Repo = Annotated[Optional[Path], typer.Option(
    "--repo", help="The port's repository (default: the one containing the current folder).")]
ConfigFile = Annotated[Optional[Path], typer.Option(
    "--config", help="TOML file with the \\[tool.bisector] settings (default: bisector.toml or pyproject.toml).")]
CBin = Annotated[Optional[Path], typer.Option(
    "--c-bin", help="The nanoBragg-compatible C reference program (else NB_C_BIN or config).")]
Reference = Annotated[Optional[ReferenceKind], typer.Option(
    "--reference", help="Where the known-good image comes from: the C program or simkernel.")]
Timeout = Annotated[Optional[float], typer.Option("--timeout", help="Seconds per candidate run.")]
MinCorrelation = Annotated[Optional[float], typer.Option(
    "--min-correlation", help="Good needs at least this Pearson correlation (default 0.999).")]
MaxSumRatioError = Annotated[Optional[float], typer.Option(
    "--max-sum-ratio-error", help="Good needs |sum_ratio - 1| at most this (default 5e-3).")]
Eager = Annotated[Optional[bool], typer.Option(
    "--eager/--no-eager", help="Run candidates with TORCH_COMPILE_DISABLE=1: faster, but a regression only in "
                               "compiled code goes unseen (config: eager).")]

Full = Annotated[bool, typer.Option(
    "--full", help="Judge every scenario on its full run, never by its probe (as a hunt confirms a culprit).")]


def overrides_from(*, c_bin: Path | None = None, paths: list[str] | None = None,
                   scenarios: list[str] | None = None, timeout: float | None = None,
                   min_correlation: float | None = None, max_sum_ratio_error: float | None = None,
                   reference: ReferenceKind | str | None = None, eager: bool | None = None,
                   paranoid: bool | None = None) -> ConfigOverrides:
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
    )
