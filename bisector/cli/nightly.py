"""`bisector nightly`: for scheduled jobs; score the tip, keep the ledger, hunt a regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app
from .options import overrides_from


@app.command()
def nightly(
    branch: Annotated[Optional[str], typer.Option("--branch", help="Branch (or commit) whose tip is scored (default: HEAD).")] = None,
    good: Annotated[Optional[str], typer.Option("--good", "-g", help="Hunt from this commit (default: the ledger's last good tip).")] = None,
    ledger: Annotated[Optional[Path], typer.Option("--ledger", help="The ledger file (default: <git dir>/bisector/ledger.sqlite3).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for summary.md, nightly.json, junit.xml and the hunt report (default ./reports/nightly/<STAMP>).")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", "-s", help="Scenario to judge (repeatable; default: all).")] = None,
    repo: Annotated[Path, typer.Option("--repo", help="The port's repository.")] = Path("."),
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with the \\[tool.bisector] settings.")] = None,
    c_bin: Annotated[Optional[Path], typer.Option("--c-bin", help="The C reference program (else NB_C_BIN or config).")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="'c' or 'simkernel'.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds per candidate run.")] = None,
) -> int:
    """Score the tip on every judged scenario, append it to the ledger, hunt and pin a regression.

    Exit codes: 0 all good, 1 regression found and pinned, 2 regression found but not pinned,
    3 the tip cannot be tested, 4 harness failure (reference, ledger, bisector), 64 bad input.
    """
    from ..errors import BisectorError
    from ..hunt.nightly import BAD_INPUT, run_nightly
    from .console import ConsoleHandler

    try:
        result = run_nightly(repo, branch, good, config_file=config, ledger_path=ledger, out_dir=out,
                             handler=ConsoleHandler(),
                             overrides=overrides_from(c_bin=c_bin, scenarios=scenario, timeout=timeout,
                                                      reference=reference))
    except BisectorError as exc:
        if exc.exit_code == 2:  # 2 means "regression not pinned" to a scheduler: bad input gets its own code
            exc.exit_code = BAD_INPUT
        raise
    raise typer.Exit(result.exit_code)
