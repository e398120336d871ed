"""A git bisect that happens beside the user's checkout, never in it.

The bisection runs in a private repository that borrows the user's objects
(``git bisect start --no-checkout``): git only moves its BISECT_HEAD and the scorer
exports the files it needs. Bisect state (refs/bisect, BISECT_LOG) lives there, so the
user's checkout, refs, worktree list and hooks, and any bisect they have in progress,
are never involved. Cleanup runs on every exit path: success, error and Ctrl-C (the CLI
turns SIGTERM into an interrupt too); what a run killed with SIGKILL leaves behind is
removed by the next one (``procs.prune_orphans``), and its scorer steps stop by themselves
once they see their owner is gone.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from .. import git
from ..score import procs

# The bytecode comes along: copytree keeps the sources' times, so Python accepts it, and
# no step of the hunt compiles bisector again (nor every step, where bytecode is not written).
_PINNED_IGNORE = shutil.ignore_patterns("demo")


class PrivateBisect:
    """Context manager owning a state folder, a private repository and its bisect."""

    def __init__(self, repo: Path, start_commit: str, keep: bool = False):
        self.repo = repo
        self.start_commit = start_commit
        self.keep = keep
        self.state = procs.owned_tempdir("bisector-run-")
        self.worktree = self.state / "repo"  # the private repository git bisects in (nothing checked out)
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> "PrivateBisect":
        try:
            git.init_private(self.repo, self.worktree, self.start_commit)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Reset the bisect and remove the private repository; safe to call more than once."""
        # A second Ctrl-C during cleanup must not leave refs/bisect behind.
        with _signals_deferred():
            if self._started and self.worktree.exists():
                git.bisect_reset(self.worktree)
            git.close(self.worktree)
            if not self.keep:
                shutil.rmtree(self.state, ignore_errors=True)

    # -- bisect ---------------------------------------------------------------------------
    def start(self, bad: str, good: str, paths: list[str]) -> None:
        self._started = True
        git.bisect_start(self.worktree, bad, good, paths)

    def mark(self, term: str, commits: list[str]) -> None:
        """Record verdicts scored outside ``git bisect run`` (``run --jobs``)."""
        git.bisect_mark(self.worktree, term, commits)

    def pinned_scorer(self, config_json: str, probes_json: str, states_json: str, images: Path) -> list[str]:
        """Copy bisector itself and the resolved config outside the bisected tree.

        No commit under test can then change how it is judged, and reinstalling bisector
        while a bisection runs cannot either. ``probes_json``: the hunt's evidence about its
        probes before the first step (hunt/probing.py); each step adds the steps before it.
        ``states_json``: what the run already knows of the states git may pick (see
        hunt/step.py, ``KnownStates``), so that a step whose score is cached asks git nothing more.
        ``images``: where steps keep the images of their fresh runs (outside this state folder,
        which goes with the bisection: the confirmation and the report come after it).
        """
        pinned = self.state / "pinned"
        shutil.copytree(Path(__file__).resolve().parents[1], pinned / "bisector", ignore=_PINNED_IGNORE)
        files = {"config.json": config_json, "probes.json": probes_json, "states.json": states_json}
        for name, text in files.items():
            (self.state / name).write_text(text)
        return [sys.executable, "-m", "bisector.hunt.step", str(self.state / "config.json"),
                str(self.worktree), str(self.events_path), str(self.state / "probes.json"),
                str(self.state / "states.json"), str(images)]

    @property
    def events_path(self) -> Path:
        return self.state / "events.jsonl"

    def scorer_env(self) -> dict[str, str]:
        # The marker names us as the owner of git bisect run and its steps: a later run ends
        # them if we die without cleaning up, and a step refuses to start once we are gone.
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(self.state / "pinned"),
                                                            os.environ.get("PYTHONPATH")])),
                procs.MARKER: f"{procs.owner_id()}:bisect"}

    def run(self, argv: list[str], poll: Callable[[], None], interval_s: float = 0.2,
            tick: Callable[[], None] | None = None) -> tuple[int, str]:
        """``git bisect run argv``, calling ``poll`` (then ``tick``) while it works; (exit status, output)."""
        proc = git.start_bisect_run(self.worktree, argv, self.scorer_env())
        output: list[bytes] = []
        reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            # Woken the moment git exits, not at the next tick: the hunt goes straight on.
            with procs.exit_waiter(proc) as wait_up_to:
                while proc.poll() is None:
                    poll()
                    if tick:
                        tick()
                    wait_up_to(interval_s)
            reader.join(timeout=5)
            poll()
        except BaseException:
            # The scorer turns SIGTERM into an interrupt and ends its candidate on the way
            # out: give it that time, then end whatever is left of the group.
            procs.stop_group(proc, grace_s=10.0)
            raise
        return proc.returncode, b"".join(output).decode(errors="replace")

    def log(self) -> str:
        return git.bisect_log(self.worktree)


class _signals_deferred:
    """Hold SIGINT/SIGTERM while cleanup runs, then deliver them."""

    def __enter__(self):
        self._pending = []
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, lambda s, f: self._pending.append(s))
        return self

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        if self._pending and exc[0] is None:
            raise KeyboardInterrupt()
