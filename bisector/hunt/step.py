"""The scoring step that `bisector run` hands to `git bisect run`, lean on purpose.

git starts this once per step, so its start-up is bisector's overhead per step: it reads
the configuration that `run` pinned outside the bisected tree and imports no CLI
framework. ``python -m bisector.hunt.step PINNED_CONFIG REPO EVENTS``; exit codes as
`bisector score` (0 good, 1 bad, 125 skip, 128 abort, 130 interrupted).
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path

from .. import git
from ..config import Config
from ..errors import BisectorError, ConfigError
from ..store.events import EventLog
from ..score.verdict import INTERRUPTED_EXIT, Verdict


def commit_under_test(repo: Path) -> str:
    """BISECT_HEAD during a ``--no-checkout`` bisection (git moves it, not HEAD), else HEAD."""
    return git.resolve(repo, "BISECT_HEAD" if git.try_resolve(repo, "BISECT_HEAD") else "HEAD")


def load_pinned(path: Path) -> Config:
    try:
        return Config.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the pinned configuration {path}: {exc}")


def record_lines(record) -> list[str]:
    """Human-readable lines of a ScoreRecord: one per scenario, then the verdict."""
    lines = []
    for s in record.scenarios:
        corr = "-" if s.correlation is None else f"{s.correlation:.6f}"
        ratio = "-" if s.sum_ratio is None else f"{s.sum_ratio:.6f}"
        flags = ("cached " if s.cached else "") + ("probe " if s.via_probe else "")
        lines.append(f"{s.name:<12} corr={corr:<9} sum_ratio={ratio:<9} {s.verdict.value:<5} "
                     f"{flags}{s.seconds:.2f}s  {s.reason}")
    lines.append(f"{record.commit[:12]}: {record.verdict.value} (exit {record.exit_code}, "
                 f"{record.seconds:.2f}s)")
    return lines


class RunList:
    """Collects the candidate runs of one scoring (probes included) from its log events:
    what the progress display and the speed benchmark count and time."""

    def __init__(self):
        self.runs: list[dict] = []

    def __call__(self, event: dict) -> None:
        if event.get("event") == "scenario_end":
            self.runs.append({"scenario": event["scenario"], "probe_for": event.get("probe_for"),
                              "seconds": event.get("seconds"), "cached": event.get("cached"),
                              "verdict": event.get("verdict")})


def run_step(pinned: Path, repo: Path, events: Path) -> int:
    from ..score.scoring import score_commit

    config = load_pinned(pinned)
    sha = commit_under_test(repo)
    log = EventLog(events)
    log.append({"type": "start", "commit": sha})
    runs = RunList()
    record = score_commit(config, sha, log=runs)
    log.append({"type": "scored", "commit": sha, "record": dict(record.to_dict(), runs=runs.runs)})
    print("\n".join(record_lines(record)), flush=True)
    return record.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `bisector run` stops a step with SIGTERM: as an exception it unwinds through the
    # candidate runner, which then kills the candidate's process group (no orphans).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if len(argv) != 3:
            raise ConfigError("usage: python -m bisector.hunt.step PINNED_CONFIG REPO EVENTS")
        return run_step(Path(argv[0]), Path(argv[1]), Path(argv[2]))
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT
    except BisectorError as exc:
        print(f"bisector: error: {exc}", file=sys.stderr)
    except BaseException:  # noqa: BLE001 - anything else must abort, never read as "bad"
        print("bisector: internal error (aborting the bisection):\n" + traceback.format_exc(), file=sys.stderr)
    return Verdict.ABORT.exit_code


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    sys.exit(main())
