"""The library surface: what the CLI commands call, and what tests and the demo call directly.

Each hunt is a small driver in :mod:`bisector.hunt` (``run_bisect`` in hunt/bisect.py,
``scan_history`` in hunt/scan.py, ``run_nightly`` in hunt/nightly.py). They report through
the ``handler`` passed to them (:class:`~bisector.hunt.handler.HuntHandler`; the command
line passes its console one); without one a call writes nothing to the terminal.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import git
from .config import Config, ConfigOverrides, load_config
from .hunt.bisect import BisectResult, run_bisect
from .hunt.handler import HuntHandler, SilentHandler
from .hunt.nightly import NightlyResult, run_nightly
from .hunt.prepare import cache_notice, uncommitted_notice
from .hunt.scan import ScanResult, scan_history
from .hunt.step import commit_under_test
from .score import procs
from .records import ScoreRecord
from .score.scoring import score_commit

__all__ = ["BisectResult", "HuntHandler", "NightlyResult", "ScanResult", "SilentHandler", "run_bisect",
           "run_nightly", "scan_history", "score"]


def score(repo: Path | None = None, commit: str | None = None, *, config_file: Path | None = None,
          overrides: ConfigOverrides | None = None, use_cache: bool = True,
          use_probes: bool = True) -> tuple[ScoreRecord, Config]:
    """Score one commit (default: BISECT_HEAD during a bisection, else HEAD) of ``repo``.

    The returned record's ``exit_code`` is git bisect's: 0 good, 1 bad, 125 skip, 128 abort.
    ``use_probes=False`` judges every scenario on its full run, as a hunt's confirmation does.
    """
    procs.prune_orphans()
    repo = git.toplevel(Path(repo).resolve() if repo else Path.cwd())
    config = load_config(repo, config_file, overrides)
    sha = git.resolve(repo, commit) if commit else commit_under_test(repo)
    config = dataclasses.replace(config, notices=config.notices + cache_notice(config)
                                 + uncommitted_notice(repo, sha, config))
    return score_commit(config, sha, use_cache=use_cache, use_probes=use_probes), config
