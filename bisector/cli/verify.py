"""`bisector verify [COMMIT]`: every scenario and the port's own tests at one commit, one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import overrides_from


@app.command("verify")
def verify(
    commit: Annotated[Optional[str], typer.Argument(help="Commit to verify (default: HEAD).")] = None,
    pytest: Annotated[Optional[list[str]], typer.Option("--pytest", help="A pytest selector of the port to run too (repeatable), e.g. tests/test_geometry.py::test_pix0.")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Only this scenario (repeatable; default: every configured one).")] = None,
    repo: Annotated[Path, typer.Option("--repo", help="The port's repository.")] = Path("."),
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with the \\[tool.bisector] settings.")] = None,
    c_bin: Annotated[Optional[Path], typer.Option("--c-bin", help="The C reference program (else NB_C_BIN or config).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="'c' or 'simkernel'.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds per scenario run or pytest selector.")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where report folders go (default ./reports/verify).")] = None,
) -> None:
    """Score every configured scenario and run pytest selectors in one private checkout (exit 0 all pass, 1 a check fails, 2 bad input, 4 reference failed)."""
    from ..diagnose.verify import run_verify, table_lines

    result = run_verify(repo, commit, pytest=pytest or [], scenarios=scenario, config_file=config,
                        overrides=overrides_from(c_bin=c_bin, scenarios=scenario, timeout=timeout, reference=reference),
                        report_root=report_dir)
    typer.echo("\n".join(table_lines(result)))
    typer.echo(f"report: {result.report_dir}")
    raise typer.Exit(result.exit_code)
