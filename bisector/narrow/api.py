"""What `bisector narrow` and `run/scan --narrow` call: configuration, default culprit, report.

:mod:`.narrowing` does the search on a pinned configuration; this module finds what to
narrow (the culprit of the last `run` in the report folder when none is given), pins the
configuration the way a hunt does, writes the report, and tells a HuntHandler what happens.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .. import git
from ..config import Config, ConfigOverrides, load_config, with_overrides
from ..errors import BisectorError, ConfigError, InternalError
from ..report import narrow as report
from ..report.bundle import new_report_dir
from ..score import procs
from ..score.reference import pin_reference
from ..hunt.handler import HuntHandler, SilentHandler
from ..records import ScoreRecord
from .narrowing import DEFAULT_BUDGET, Narrowing, narrow_commit
from .hunks import GRANULARITIES

from ..hunt.scan import ScanResult

if TYPE_CHECKING:
    from ..api import BisectResult

RUN_REPORTS = Path("reports") / "bisect"


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to narrow: at most ``budget`` scorings of hunk subsets, at ``granularity``."""

    budget: int = DEFAULT_BUDGET
    granularity: str = "hunks"

    def check(self) -> None:
        if self.budget < 2:
            raise ConfigError(f"--budget {self.budget} is too small: the search and its confirmation "
                              "need at least 2 scorings", hint=f"use --budget 2 or more (default {DEFAULT_BUDGET})")
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"unknown granularity {self.granularity!r}", hint="use hunks or lines")


def narrow(repo: Path | None = None, commit: str | None = None, *, parent: str | None = None,
           settings: Settings = Settings(), config_file: Path | None = None,
           overrides: ConfigOverrides | None = None, report_root: Path | None = None,
           handler: HuntHandler | None = None) -> Narrowing:
    """Narrow ``commit`` (default: the confirmed culprit of the newest run bundle under
    ``report_root``, ./reports/bisect) and write its report.

    Narrowing a run's culprit adds to that run's bundle (narrow.md, narrow.json,
    minimal.patch, a section in culprit_summary.md, "narrow" in results.json) and reuses
    its pinned configuration unless --config, --paths, --c-bin or --reference say
    otherwise; any other commit gets a new folder under ``report_root``.
    """
    handler = handler or SilentHandler()
    overrides = overrides or ConfigOverrides()
    settings.check()
    crash = None
    try:
        procs.prune_orphans()
        repo = git.toplevel(Path(repo) if repo else Path.cwd())
        root = Path(report_root) if report_root else Path.cwd() / RUN_REPORTS
        bundle = _last_run(root)
        if commit is None:
            if bundle is None:
                raise ConfigError(f"no commit given and no run with a confirmed culprit under {root}",
                                  hint="pass the commit to narrow: `bisector narrow COMMIT`")
            commit = bundle[1]["culprit"]
        sha = git.resolve(repo, commit)
        from_run = bundle if bundle is not None and bundle[1].get("culprit") == sha else None
        config = _config(repo, from_run, config_file, overrides, parent or _parent_or_itself(repo, sha))
        crash = config.cache_dir
        narrowing = narrow_and_show(config, sha, parent=parent, settings=settings, handler=handler)
        folder = from_run[0] if from_run else new_report_dir(root)
        crash = folder
        report.write_narrowing(narrowing, folder)
        if from_run:
            report.add_to_bundle(folder, "culprit_summary.md", "results.json", [narrowing])
        handler.report_written(folder)
        return narrowing
    except BisectorError:
        raise
    except Exception as exc:
        raise InternalError.from_exception(exc, crash) from None


def narrow_and_show(config: Config, commit: str, *, parent: str | None = None, settings: Settings = Settings(),
                    handler: HuntHandler) -> Narrowing:
    """Narrow with a pinned ``config``: each scoring, then the outcome, told to ``handler``."""
    def announce(text: str, record: ScoreRecord | None) -> None:
        if record is not None and text in ("parent", "commit"):
            handler.step_scored(text, record, git.commit_info(Path(config.repo), record.commit).subject)
        else:
            handler.progress(f"  {text}")

    handler.progress(f"narrowing {commit[:10]}: {settings.granularity}, budget {settings.budget} scorings")
    narrowing = narrow_commit(config, commit, parent=parent, budget=settings.budget,
                              granularity=settings.granularity, announce=announce)
    handler.finished(narrowing)
    return narrowing


def narrow_windows(config: Config, commits: list[str], settings: Settings, handler: HuntHandler,
                   folder: Path, markdown: str, results: str) -> list[Narrowing]:
    """Narrow each of ``commits`` (a run's culprit, a scan's breaks and fixes) into ``folder``:
    one sub-folder per commit when there are several, and a section in ``markdown``/``results``."""
    done = []
    for commit in commits:
        narrowing = narrow_and_show(config, commit, settings=settings, handler=handler)
        report.write_narrowing(narrowing, folder if len(commits) == 1 else folder / f"narrow-{commit[:10]}")
        done.append(narrowing)
    if done:
        report.add_to_bundle(folder, markdown, results, done)
    return done


def pinned(repo: Path, config_file: Path | None, overrides: ConfigOverrides | None, good: str) -> Config:
    """The configuration a hunt from ``good`` judges with (C reference built at ``good``), pinned."""
    config = load_config(repo, config_file, overrides)
    spec = config.reference
    if spec.build and not spec.build_commit:
        config = dataclasses.replace(config, reference=dataclasses.replace(spec, build_commit=good))
    return pin_reference(config)


def _config(repo: Path, run: tuple[Path, dict] | None, config_file: Path | None, overrides: ConfigOverrides,
            good: str) -> Config:
    fresh = config_file or overrides.paths or overrides.c_bin or overrides.reference_kind or overrides.cache_dir
    if run is not None and not fresh and run[1].get("config"):
        try:
            config = Config.from_json(json.dumps(run[1]["config"]))
        except BisectorError:
            config = None
        if config is not None and Path(config.repo) == repo:
            return with_overrides(config, overrides)
    return pinned(repo, config_file, overrides, good)


def _parent_or_itself(repo: Path, commit: str) -> str:
    parents = git.parents(repo, commit)
    return parents[0] if parents else commit


def _last_run(root: Path) -> tuple[Path, dict] | None:
    """(folder, results.json) of the newest run bundle under ``root`` with a confirmed culprit."""
    if not root.is_dir():
        return None
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        try:
            data = json.loads((folder / "results.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("culprit") and data.get("confirmed"):
            return folder, data
    return None


def narrow_hunted(result: "BisectResult | ScanResult", *, settings: Settings = Settings(), config_file: Path | None = None,
                  overrides: ConfigOverrides | None = None, handler: HuntHandler | None = None) -> list[Narrowing]:
    """`run --narrow` / `scan --narrow`: narrow what a finished hunt pinned, into its bundle.

    ``result``: an ``api.BisectResult`` (its confirmed culprit; or, when it went on as a scan,
    what the scan pinned) or a ``ScanResult`` (every confirmed break and fix). The hunt's exit
    code stands: a narrowing that the harness stops is reported on one line.
    """
    handler = handler or SilentHandler()
    settings.check()
    scan = result if isinstance(result, ScanResult) else result.scan
    try:
        if scan is not None:
            return _narrow_scan(scan, settings, config_file, overrides, handler)
        if not (result.culprit and result.confirmed and result.report_dir):
            return []
        data = json.loads((result.report_dir / "results.json").read_text())
        config = _config(Path(data["repo"]), (result.report_dir, data), config_file,
                         overrides or ConfigOverrides(), _parent_or_itself(Path(data["repo"]), result.culprit))
        return narrow_windows(config, [result.culprit], settings, handler, result.report_dir,
                              "culprit_summary.md", "results.json")
    except BisectorError as exc:
        handler.notice(f"narrowing stopped: {exc.message}")
        return []


def _narrow_scan(scan, settings: Settings, config_file: Path | None, overrides: ConfigOverrides | None,
                 handler: HuntHandler) -> list[Narrowing]:
    commits = []
    for window in scan.pinned_windows():
        for t in (window.start, window.end):
            if scan.confirmed(t):
                commits.append(t.commits[0])
    if not commits or scan.report_dir is None:
        return []
    config = pinned(Path(scan.repo), config_file, overrides, scan.good)
    return narrow_windows(config, list(dict.fromkeys(commits)), settings, handler, scan.report_dir,
                          "timeline.md", "timeline.json")
