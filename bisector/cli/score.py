"""``bisector score [COMMIT]``: score one commit and exit with git bisect's codes.

0 good, 1 bad, 125 skip, 128 abort. Every failure of the harness (invalid configuration,
broken reference, a bug of ours) becomes 128, so git bisect stops instead of blaming a
commit. Heavy modules are imported inside the command: git runs this at every step.
"""

from __future__ import annotations

import signal
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..verdict import Verdict
from . import app


@app.command("score")
def score(
    commit: Annotated[Optional[str], typer.Argument(
        help="Commit to score (default: BISECT_HEAD during a bisection, else HEAD).")] = None,
    repo: Annotated[Optional[Path], typer.Option(
        help="Repository of the port (default: the one containing the current folder).")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="TOML configuration file (default: bisector.toml or pyproject.toml).")] = None,
    c_bin: Annotated[Optional[Path], typer.Option(
        "--c-bin", help="nanoBragg-compatible C program used as the reference.")] = None,
    scenario: Annotated[Optional[list[str]], typer.Option(
        "--scenario", help="Scenario to judge (repeatable; default: all configured).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Run the candidate even if a cached score exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
    pinned: Annotated[Optional[Path], typer.Option(
        "--pinned", hidden=True, help="Resolved configuration pinned by `bisector run`.")] = None,
    record: Annotated[Optional[Path], typer.Option(
        "--record", hidden=True, help="Event file that `bisector run` follows.")] = None,
) -> None:
    """Score one commit against the reference; exit 0 good, 1 bad, 125 skip, 128 abort."""
    # `bisector run` stops a step with SIGTERM: as an exception it unwinds through the
    # candidate runner, which then kills the candidate's process group (no orphans).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = _score(commit, repo, config, c_bin, scenario, no_cache, as_json, pinned, record)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else must not look like "bad"
        if isinstance(exc, typer.Exit):
            raise
        _abort(exc)
        code = Verdict.ABORT.exit_code
    raise typer.Exit(code)


def _score(commit, repo, config_file, c_bin, scenarios, no_cache, as_json, pinned, events) -> int:
    from .. import git
    from ..config import Config, ConfigOverrides, load_config, with_overrides
    from ..scoring import score_commit

    here = git.toplevel(Path(repo).resolve() if repo else Path.cwd())
    overrides = ConfigOverrides(c_bin=c_bin, scenarios=scenarios or None)
    if pinned is not None:
        try:
            text = Path(pinned).read_text(encoding="utf-8")
        except OSError as exc:
            from ..errors import ConfigError
            raise ConfigError(f"cannot read the pinned configuration {pinned}: {exc}")
        cfg = with_overrides(Config.from_json(text), overrides)
    else:
        cfg = load_config(here, config_file, overrides)
    for notice in cfg.notices:
        typer.echo(f"bisector: {notice}", err=True)

    # During `git bisect start --no-checkout` git moves BISECT_HEAD, not HEAD.
    rev = commit or ("BISECT_HEAD" if git.try_resolve(here, "BISECT_HEAD") else "HEAD")
    sha = git.resolve(here, rev)
    log = _event_log(events)
    log({"type": "start", "commit": sha})
    record = score_commit(cfg, sha, use_cache=not no_cache)
    log({"type": "scored", "commit": sha, "record": record.to_dict()})
    if as_json:
        typer.echo(record.to_json())
    else:
        _print_record(record)
    return record.exit_code


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def _event_log(path: Path | None):
    """Append events for `bisector run`'s display and report; a no-op when run by hand."""
    if path is None:
        return lambda event: None
    from ..progress import EventLog

    return EventLog(path).append


def _print_record(record) -> None:
    for s in record.scenarios:
        corr = "-" if s.correlation is None else f"{s.correlation:.6f}"
        ratio = "-" if s.sum_ratio is None else f"{s.sum_ratio:.6f}"
        flags = ("cached " if s.cached else "") + ("probe " if s.via_probe else "")
        typer.echo(f"{s.name:<12} corr={corr:<9} sum_ratio={ratio:<9} {s.verdict.value:<5} "
                   f"{flags}{s.seconds:.2f}s  {s.reason}")
    if record.error:
        typer.echo(f"bisector: error: {record.error}", err=True)
    typer.echo(f"{record.commit[:12]}: {record.verdict.value} (exit {record.exit_code}, "
               f"{record.seconds:.2f}s)")


def _abort(exc: BaseException) -> None:
    message = getattr(exc, "message", None)
    if message is not None:  # a BisectorError: the user can fix it
        typer.secho(f"bisector: error: {message}", err=True, fg="red")
        if getattr(exc, "hint", None):
            typer.secho(f"  hint: {exc.hint}", err=True)
    else:
        typer.secho("bisector: internal error (aborting the bisection):", err=True, fg="red")
        typer.echo(traceback.format_exc(), err=True)
    typer.echo(f"abort (exit {Verdict.ABORT.exit_code})", err=True)
