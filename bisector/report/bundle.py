"""The report bundle a person acts on: markdown for reading, JSON for machines, PNGs for eyes.

reports/bisect/<STAMP>/
  git_walk.md         the range, how many commits touch the relevant paths, endpoint evidence
  bisect_log.md       one row per scored commit
  culprit_summary.md  the culprit, what it changed, metrics before and after
  commands.txt        one command that reproduces the verdict
  env.json, results.json
  comparison.png      reference, parent and culprit on one scale; difference; zoom (report/figures.py),
                      for the scenario the culprit fails worst; comparison-<scenario>.png for each other
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .. import git
from ..errors import RunExit
from ..hunt.walk import GitWalk
from ..records import Phase, ScoreRecord
from ..score.verdict import Verdict
from . import figures
from .text import last_line, scenario_text, shown

if TYPE_CHECKING:  # numpy is imported where images are made, not by every command
    from .pictures import ScenarioPictures


@dataclass
class RunFindings:
    """Everything a hunt knows, filled in as it goes; a finished (or aborted) one is reported."""

    repo: Path
    walk: GitWalk
    config: dict = field(default_factory=dict)          # the resolved configuration, as JSON data
    records: list[ScoreRecord] = field(default_factory=list)  # in the order made, each with its phase
    culprit: str | None = None
    candidates: list[str] = field(default_factory=list)
    conclusion: str = ""                # one paragraph a person can act on
    confirmed: bool | None = None
    exit_code: int = RunExit.NO_CULPRIT
    reproduce: list[str] = field(default_factory=list)   # argv of the reproducing command
    pictures: list[ScenarioPictures] = field(default_factory=list)  # per failing scenario, worst first
    confirmation: dict = field(default_factory=dict)  # which runs confirm each side (hunt/confirm.py)
    started: float = field(default_factory=time.monotonic)  # when the hunt began (time.monotonic)
    seconds: float = 0.0                # the hunt's wall time up to its verdict

    def conclude(self, conclusion: str, exit_code: int, *, culprit: str | None = None,
                 candidates: list[str] | None = None, confirmed: bool | None = None) -> "RunFindings":
        self.conclusion, self.exit_code = conclusion, exit_code
        self.culprit, self.confirmed = culprit, confirmed
        self.candidates = list(candidates or ([culprit] if culprit else []))
        return self

    def in_phase(self, phase: Phase) -> list[ScoreRecord]:
        return [r for r in self.records if r.phase is phase]


def stamp(now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def new_report_dir(root: Path) -> Path:
    """A fresh ``root/<STAMP>`` (a suffix keeps two runs in the same second apart)."""
    base = root / stamp()
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def write_bundle(findings: RunFindings, report_dir: Path) -> Path:
    """Results first (results.json, commands.txt, env.json), then Markdown, then the figure:
    whatever stops the writing (a full disk) takes the decoration, not the verdict."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "results.json").write_text(json.dumps(_results(findings), indent=2, default=str) + "\n")
    (report_dir / "commands.txt").write_text(shlex.join(findings.reproduce) + "\n" if findings.reproduce else "")
    (report_dir / "env.json").write_text(json.dumps(environment(), indent=2) + "\n")
    info = _commit_infos(findings)
    (report_dir / "git_walk.md").write_text(_git_walk_md(findings, info))
    (report_dir / "bisect_log.md").write_text(_bisect_log_md(findings, info))
    (report_dir / "culprit_summary.md").write_text(_culprit_md(findings, info))
    drawn = _comparison_figures(findings, info, report_dir)
    if drawn:  # the summary again, now embedding the figures
        (report_dir / "culprit_summary.md").write_text(_culprit_md(findings, info, drawn))
    return report_dir


def _comparison_figures(f: RunFindings, info: dict, report_dir: Path) -> list[tuple[str, figures.FigureInfo]]:
    """One figure per failing scenario, worst first: the reference, parent and culprit images."""
    if not f.culprit:
        return []
    culprit, parent = _evidence(f, "culprit"), _evidence(f, "parent")  # a re-run is each side's latest
    parent_sha = (git.parents(f.repo, f.culprit) or [None])[0]
    drawn = []
    for n, pictures in enumerate(f.pictures):
        name = pictures.scenario
        parent_label = f"parent {parent_sha[:10]}" if parent_sha else "parent"
        panels = [figures.Panel("reference", f"reference ({_reference_label(f)})", pictures.reference),
                  figures.Panel("parent", parent_label, pictures.parent, note=pictures.parent_note),
                  figures.Panel("culprit", f"culprit {info[f.culprit].short}", pictures.culprit)]
        caption = [f"culprit {f.culprit[:10]}: {_scenario_metrics(culprit, name)}"]
        if parent and parent_sha:
            caption.append(f"parent  {parent_sha[:10]}: {_scenario_metrics(parent, name)}")
        subject = shown(info[f.culprit].subject)
        title = f"scenario {name}: culprit {f.culprit[:10]} ({subject[:60]}) vs reference"
        path = report_dir / ("comparison.png" if n == 0 else f"comparison-{name}.png")
        drawn.append((name, figures.comparison_figure(path, panels, title=title, caption=caption,
                                                      difference_of=("culprit", "reference"))))
    return drawn


def _reference_label(f: RunFindings) -> str:
    kind = f.config.get("reference", {}).get("kind")
    return "C program" if kind == "c" else "simkernel" if kind == "simkernel" else "known good"


def _scenario_metrics(record: ScoreRecord | None, name: str) -> str:
    sc = next((s for s in (record.scenarios if record else []) if s.name == name), None)
    if sc is None or sc.correlation is None or sc.sum_ratio is None:
        return "not measured"
    parts = [f"correlation {sc.correlation:.6f}", f"sum ratio {sc.sum_ratio:.6f}"]
    if sc.rms_diff is not None:
        parts.append(f"RMSE {sc.rms_diff:.4g}")
    if sc.max_abs_diff is not None:
        parts.append(f"max |diff| {sc.max_abs_diff:.4g}")
    return ", ".join(parts) + f" ({sc.verdict.value})"


# -- pieces ----------------------------------------------------------------------------------

def environment() -> dict:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": sys.version.split()[0], "executable": sys.executable,
        "platform": platform.platform(), "machine": platform.machine(),
        "cpus": _cpu_count(), "git": git.version(),
        "packages": {d: version(d) for d in ("bisector", "torch", "numpy", "typer", "GitPython")},
    }


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _commit_infos(findings: RunFindings) -> dict[str, git.CommitInfo]:
    shas = [r.commit for r in findings.records] + findings.candidates + [findings.walk.good, findings.walk.bad]
    return git.commit_infos(findings.repo, [s for s in shas if s])


def _metrics_cell(record: ScoreRecord | None) -> str:
    if not record:
        return "not scored"
    return "; ".join(scenario_text(sc) for sc in record.scenarios)


def _endpoint(findings: RunFindings, sha: str) -> ScoreRecord | None:
    return next((r for r in findings.in_phase(Phase.ENDPOINT) if r.commit == sha), None)


def _git_walk_md(f: RunFindings, info: dict) -> str:
    w = f.walk
    good, bad = info[w.good], info[w.bad]
    return "\n".join([
        "# Git walk", "",
        f"- Repository: `{f.repo}`",
        f"- Range: `{good.short}` (good, {good.date}) .. `{bad.short}` (bad, {bad.date})",
        f"- Commits in range: {w.commits}",
        f"- Commits touching the relevant paths ({', '.join(w.paths)}): {w.relevant_commits}",
        f"- Distinct relevant states (endpoints included): {w.distinct_states}",
        f"- Commits scored (cache misses and hits): {len({r.commit for r in f.records})}",
        "", "## Endpoint evidence", "",
        f"- good `{good.short}` {_md(good.subject)}: {_metrics_cell(_endpoint(f, w.good))}",
        f"- bad `{bad.short}` {_md(bad.subject)}: {_metrics_cell(_endpoint(f, w.bad))}",
        "", "## Conclusion", "", f.conclusion, "",
    ])


def _bisect_log_md(f: RunFindings, info: dict) -> str:
    rows = ["# Bisect log", "",
            "| phase | sha | date | subject | scenario | correlation | sum_ratio | verdict | seconds | cached |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in f.records:
        ci = info[r.commit]
        lead = f"| {r.phase.value if r.phase else ''} | `{ci.short}` | {ci.date[:10]} | {_md(ci.subject)} |"
        if not r.scenarios:
            reason = f": {last_line(r.error)}" if r.error else ""
            rows.append(f"{lead} - | - | - | {_md(r.verdict.value + reason)} | {r.seconds:.2f} | no |")
        for sc in r.scenarios:
            corr = f"{sc.correlation:.6f}" if sc.correlation is not None else "-"
            ratio = f"{sc.sum_ratio:.6f}" if sc.sum_ratio is not None else "-"
            verdict = sc.verdict.value + (" (probe)" if sc.via_probe else "")
            if sc.verdict in (Verdict.SKIP, Verdict.ABORT) and sc.reason:
                verdict += f": {last_line(sc.reason)}"
            rows.append(f"{lead} {_md(sc.name)} | {corr} | {ratio} | {_md(verdict)} | "
                        f"{sc.seconds:.2f} | {'yes' if sc.cached else 'no'} |")
    return "\n".join(rows) + "\n"


def _culprit_md(f: RunFindings, info: dict, drawn: list[tuple[str, figures.FigureInfo]] = ()) -> str:
    lines = ["# Culprit", ""]
    if not f.culprit:
        lines += [f.conclusion, ""]
        if f.candidates:
            lines += ["Candidates (skipped commits border the culprit):", ""]
            lines += [f"- `{info[c].short}` {info[c].date[:10]} {_md(info[c].subject)}" for c in f.candidates]
        return "\n".join(lines) + "\n"
    ci = info[f.culprit]
    files = [shown(p) for p in git.changed_files(f.repo, f.culprit)]
    parent = (git.parents(f.repo, f.culprit) or [None])[0]
    lines += [
        f"**`{ci.sha}`** {_md(ci.subject)}", "",
        f"- Author: {_md(ci.author)}", f"- Date: {ci.date}",
        f"- Confirmed on fresh full-scenario runs (culprit bad, parent good): "
        f"{'yes' if f.confirmed else 'NO: see bisect_log.md'}",
        "", "## Metrics", "",
        f"- parent `{parent[:10] if parent else '-'}`: {_metrics_cell(_evidence(f, 'parent'))}",
        f"- culprit `{ci.short}`: {_metrics_cell(_evidence(f, 'culprit'))}",
        "", "## Confirmation", "", *_confirmation_lines(f),
        "", "## Files changed", "",
        *[f"- `{p}`" for p in files],
        "", "## Modules", "", *[f"- `{m}`" for m in modules_of(files)],
        "", "## Diffstat", "", "```", shown(git.diffstat(f.repo, f.culprit)), "```", "",
        "## Conclusion", "", f.conclusion, "",
    ]
    if drawn:
        lines += ["## Images", "", "One figure per scenario the culprit fails, the worst first.", ""]
    for name, figure in drawn:
        lines += [f"### Scenario {name}", "",
                  *figures.explain(figure, "the reference", "the culprit", ("the parent",)), ""]
    return "\n".join(lines)


def _evidence(f: RunFindings, side: str) -> ScoreRecord | None:
    """The latest run confirming ``side`` ("parent" or "culprit")."""
    runs = f.confirmation.get(side, {}).get("runs", [])
    if not runs:
        return None
    last = runs[-1]
    return next((r for r in reversed(f.records)
                 if r.commit == last["commit"] and r.phase is not None and r.phase.value == last["phase"]), None)


def _confirmation_lines(f: RunFindings) -> list[str]:
    """Which fresh full-scenario runs confirm each side, and which verdicts a probe gave."""
    lines = []
    for side in ("parent", "culprit"):
        data = f.confirmation.get(side)
        if not data:
            continue
        runs = "; ".join(f"{r['phase']} run of `{r['commit'][:10]}`: {r['verdict']}" for r in data["runs"])
        lines.append(f"- {side} `{data['commit'][:10]}` (should be {data['wanted']}): {runs or 'no run'}")
    probed = [r for r in f.records if any(sc.via_probe for sc in r.scenarios)]
    if probed:
        named = ", ".join(f"`{r.commit[:10]}` ({r.phase.value if r.phase else ''})" for r in probed)
        lines.append(f"- Verdicts from a probe (bad only, never used to confirm): {named}")
    return lines + [""]


def modules_of(files: list[str]) -> list[str]:
    """Dotted Python module names for changed .py files (``src/pkg/mod.py`` -> ``pkg.mod``)."""
    mods = []
    for p in files:
        if not p.endswith(".py"):
            continue
        parts = Path(p).with_suffix("").parts
        if parts and parts[0] in ("src", "lib"):
            parts = parts[1:]
        if parts and parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            mods.append(".".join(parts))
    return sorted(set(mods))


def _results(f: RunFindings) -> dict:
    return {"repo": str(f.repo), "walk": f.walk.to_dict(), "culprit": f.culprit,
            "candidates": f.candidates, "confirmed": f.confirmed, "conclusion": f.conclusion,
            "exit_code": int(f.exit_code), "reproduce": f.reproduce, "config": f.config,
            "records": [r.to_dict() for r in f.records], "confirmation": f.confirmation,
            "timing": timing(f.records, f.seconds)}


def timing(records: list[ScoreRecord], seconds: float) -> dict:
    """The hunt's wall time up to its verdict, each scoring's own time and what is left
    outside scoring (references, git, the private repository, process start-up).

    Scorings on several workers overlap: their sum may then exceed the wall time, and the
    time outside scoring is given as 0.
    """
    scoring = sum(r.seconds for r in records)
    return {"seconds": seconds, "scoring_seconds": scoring,
            "outside_scoring_seconds": max(seconds - scoring, 0.0),
            "scorings": [{"commit": r.commit, "phase": r.phase.value if r.phase else None,
                          "verdict": r.verdict.value, "seconds": r.seconds, "runs": r.runs} for r in records]}


def _md(text: str) -> str:
    """Commit text inside a markdown table or line: control characters visible, pipes escaped."""
    return shown(text).replace("|", "\\|")
