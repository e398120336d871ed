"""What every hunt does before it scores anything: endpoints, configuration notices, references.

Shared by the drivers of run, scan and nightly; bad input is refused here, before any
expensive work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import git
from ..config import Config
from ..errors import GitError
from ..score.reference import make_alongside, pin_reference, reference_for, settle
from ..store.cache import Cache
from .handler import HuntHandler


@dataclass
class CrashFolder:
    """Where a crash log goes: the report folder once it exists, else the cache folder."""

    path: Path | None = None


def cache_notice(config: Config) -> tuple[str, ...]:
    """Why the cache is read-only or off, said once here; the scoring steps carry on quietly."""
    cache = Cache(config.cache_dir)
    cache.close()
    return (cache.notice,) if cache.notice else ()


def uncommitted_notice(repo: Path, sha: str, config: Config) -> tuple[str, ...]:
    """Say so when HEAD is scored while the relevant paths have changes that are not in it."""
    if git.try_resolve(repo, "HEAD") != sha:
        return ()
    changed = git.uncommitted(repo, list(config.paths))
    if not changed:
        return ()
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return (f"warning: uncommitted changes in {', '.join(config.paths)} ({shown}) are not scored: "
            f"bisector scores the committed tree of {sha[:10]}; commit them to score them",)


def endpoints(repo: Path, good: str, bad: str | None) -> tuple[str, str]:
    good_sha = git.resolve(repo, good)
    bad_sha = git.resolve(repo, bad or "HEAD")
    if good_sha == bad_sha:
        raise GitError(f"good and bad are the same commit ({good_sha[:10]})",
                       hint="pass --bad with a later commit, or omit it to use HEAD")
    if not git.is_ancestor(repo, good_sha, bad_sha):
        raise GitError(f"good commit {good} ({good_sha[:10]}) is not an ancestor of bad commit "
                       f"{bad or 'HEAD'} ({bad_sha[:10]})",
                       hint="bisection needs good to come before bad in history; check with "
                            "`git merge-base --is-ancestor GOOD BAD`")
    return good_sha, bad_sha


def build_at(config: Config, good: str) -> Config:
    """A C reference built from source is built at the good commit unless told otherwise:
    that is the state the user vouches for."""
    spec = config.reference
    if spec.build and not spec.build_commit:
        return dataclasses.replace(config, reference=dataclasses.replace(spec, build_commit=good))
    return config


def prepare_references(config: Config, handler: HuntHandler, *, alongside: bool = False) -> Config:
    """Make every reference image now and pin the reference for the steps.

    A broken reference then stops us before any bisecting, and the scorer processes only
    read cached images made by exactly this reference. ``alongside`` (a hunt that scores
    its endpoints in this process): on a machine with cores to spare, the images are made
    in a thread while the endpoints' candidates run; :func:`references_settled` around the
    endpoints waits for them, so the same holds.
    """
    config = pin_reference(config)
    for notice in cache_notice(config):
        handler.notice(notice)
    scenarios = [config.scenarios[name] for name in _needed_scenarios(config)]
    if alongside and (os.cpu_count() or 1) > 1:
        make_alongside(config, scenarios)
        return config
    reference = reference_for(config)
    for scenario in scenarios:
        with handler.busy(f"reference image for scenario {scenario.name} ({reference.key[:24]})"):
            reference.image(scenario)
    return config


@contextlib.contextmanager
def references_settled(config: Config) -> Iterator[None]:
    """On the way out, every reference image made alongside is made and cached; a broken
    reference is raised as such, ahead of what it made fail (Ctrl-C does not wait)."""
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        settle(config, wait=not interrupted)


def _needed_scenarios(config: Config) -> list[str]:
    names = list(config.judge)
    names += [config.scenarios[n].probe for n in config.judge if config.scenarios[n].probe]
    return list(dict.fromkeys(names))
