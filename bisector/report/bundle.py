"""The report bundle a person acts on: markdown for reading, JSON for machines, PNGs for eyes.

reports/bisect/<STAMP>/
  git_walk.md         the range, how many commits touch the relevant paths, endpoint evidence
  bisect_log.md       one row per scored commit
  culprit_summary.md  the culprit, what it changed, metrics before and after
  commands.txt        one command that reproduces the verdict
  env.json, results.json
  comparison.png      reference, parent and culprit on one scale; difference; zoom (report/figures.py)
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .. import git
from . import figures
from ..hunt.walk import GitWalk

if TYPE_CHECKING:  # numpy is imported where images are made, not by every command
    import numpy as np


@dataclass
class RunFindings:
    """Everything a finished (or refused, or aborted) run knows, in plain data."""

    repo: Path
    walk: GitWalk
    records: list[dict]                 # score records in the order they were made, each with "phase"
    culprit: str | None
    candidates: list[str]
    conclusion: str                     # one paragraph a person can act on
    confirmed: bool | None = None
    reproduce: list[str] = field(default_factory=list)   # argv of the reproducing command
    config: dict = field(default_factory=dict)
    pictures: dict[str, np.ndarray] = field(default_factory=dict)  # name -> image


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
    report_dir.mkdir(parents=True, exist_ok=True)
    info = _commit_infos(findings)
    (report_dir / "git_walk.md").write_text(_git_walk_md(findings, info))
    (report_dir / "bisect_log.md").write_text(_bisect_log_md(findings, info))
    figure = _comparison_figure(findings, info, report_dir)
    (report_dir / "culprit_summary.md").write_text(_culprit_md(findings, info, figure))
    (report_dir / "commands.txt").write_text(shlex.join(findings.reproduce) + "\n" if findings.reproduce else "")
    (report_dir / "env.json").write_text(json.dumps(environment(), indent=2) + "\n")
    (report_dir / "results.json").write_text(json.dumps(_results(findings), indent=2, default=str) + "\n")
    return report_dir


def _comparison_figure(f: RunFindings, info: dict, report_dir: Path) -> figures.FigureInfo | None:
    """One figure of the reference, parent and culprit images of the failing scenario."""
    if not f.culprit or "reference" not in f.pictures or "culprit" not in f.pictures:
        return None
    culprit = _confirm_record(f, f.culprit)
    parent_sha = (git.parents(f.repo, f.culprit) or [None])[0]
    parent = _confirm_record(f, parent_sha)
    scenario = next((sc for sc in (culprit or {}).get("scenarios", []) if sc.get("image")), {})
    name = scenario.get("name", "?")
    panels = [figures.Panel("reference", f"reference ({_reference_label(f)})", f.pictures["reference"])]
    if "parent" in f.pictures and parent_sha:
        panels.append(figures.Panel("parent", f"parent {parent_sha[:10]}", f.pictures["parent"]))
    panels.append(figures.Panel("culprit", f"culprit {info[f.culprit].short}", f.pictures["culprit"]))
    caption = [f"culprit {f.culprit[:10]}: {_scenario_metrics(culprit, name)}"]
    if parent:
        caption.append(f"parent  {parent_sha[:10]}: {_scenario_metrics(parent, name)}")
    title = f"scenario {name}: culprit {f.culprit[:10]} ({_md(info[f.culprit].subject)[:60]}) vs reference"
    return figures.comparison_figure(report_dir / "comparison.png", panels, title=title, caption=caption,
                                     difference_of=("culprit", "reference"))


def _confirm_record(f: RunFindings, sha: str | None) -> dict | None:
    return next((r for r in f.records if r["commit"] == sha and r.get("phase") == "confirm"), None)


def _reference_label(f: RunFindings) -> str:
    kind = f.config.get("reference", {}).get("kind")
    return "C program" if kind == "c" else "simkernel" if kind == "simkernel" else "known good"


def _scenario_metrics(record: dict | None, name: str) -> str:
    sc = next((s for s in (record or {}).get("scenarios", []) if s.get("name") == name), None)
    if not sc or sc.get("correlation") is None:
        return "not measured"
    parts = [f"correlation {sc['correlation']:.6f}", f"sum ratio {sc['sum_ratio']:.6f}"]
    if sc.get("rms_diff") is not None:
        parts.append(f"RMSE {sc['rms_diff']:.4g}")
    if sc.get("max_abs_diff") is not None:
        parts.append(f"max |diff| {sc['max_abs_diff']:.4g}")
    return ", ".join(parts) + f" ({sc['verdict']})"


# -- pieces ----------------------------------------------------------------------------------

def environment() -> dict:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "python": sys.version.split()[0], "executable": sys.executable,
        "platform": platform.platform(), "machine": platform.machine(),
        "cpus": _cpu_count(), "git": git_version,
        "packages": {d: version(d) for d in ("bisector", "torch", "numpy", "typer", "GitPython")},
    }


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _commit_infos(findings: RunFindings) -> dict[str, git.CommitInfo]:
    shas = {r["commit"] for r in findings.records} | set(findings.candidates)
    shas |= {findings.walk.good, findings.walk.bad}
    return {s: git.commit_info(findings.repo, s) for s in shas if s}


def scenario_text(sc: dict) -> str:
    """One scenario's result in words: its metrics when it has an image, else why not."""
    if sc.get("correlation") is not None and sc.get("sum_ratio") is not None:
        probe = ", by its probe" if sc.get("via_probe") else ""
        return (f"{sc['name']}: correlation {sc['correlation']:.6f}, sum_ratio {sc['sum_ratio']:.6f} "
                f"({sc['verdict']}{probe})")
    return f"{sc['name']}: {sc['verdict']} ({last_line(sc.get('reason')) or 'no image'})"


def _metrics_cell(record: dict | None) -> str:
    if not record:
        return "not scored"
    return "; ".join(scenario_text(sc) for sc in record.get("scenarios", []))


def _endpoint(findings: RunFindings, sha: str) -> dict | None:
    return next((r for r in findings.records if r["commit"] == sha and r.get("phase") == "endpoint"), None)


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
        f"- Commits scored (cache misses and hits): {len({r['commit'] for r in f.records})}",
        "", "## Endpoint evidence", "",
        f"- good `{good.short}` {good.subject}: {_metrics_cell(_endpoint(f, w.good))}",
        f"- bad `{bad.short}` {bad.subject}: {_metrics_cell(_endpoint(f, w.bad))}",
        "", "## Conclusion", "", f.conclusion, "",
    ])


def _bisect_log_md(f: RunFindings, info: dict) -> str:
    rows = ["# Bisect log", "",
            "| phase | sha | date | subject | scenario | correlation | sum_ratio | verdict | seconds | cached |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in f.records:
        ci = info[r["commit"]]
        for sc in r.get("scenarios", []) or [{}]:
            corr = f"{sc['correlation']:.6f}" if sc.get("correlation") is not None else "-"
            ratio = f"{sc['sum_ratio']:.6f}" if sc.get("sum_ratio") is not None else "-"
            verdict = sc.get("verdict", r.get("verdict"))
            if sc.get("via_probe"):
                verdict += " (probe)"
            if verdict in ("skip", "abort") and sc.get("reason"):
                verdict += f": {last_line(sc['reason'])}"
            rows.append(f"| {r.get('phase', '')} | `{ci.short}` | {ci.date[:10]} | {_md(ci.subject)} | "
                        f"{sc.get('name', '-')} | {corr} | {ratio} | {_md(verdict)} | "
                        f"{sc.get('seconds', 0):.2f} | {'yes' if sc.get('cached') else 'no'} |")
    return "\n".join(rows) + "\n"


def _culprit_md(f: RunFindings, info: dict, figure: figures.FigureInfo | None = None) -> str:
    lines = ["# Culprit", ""]
    if not f.culprit:
        lines += [f.conclusion, ""]
        if f.candidates:
            lines += ["Candidates (skipped commits border the culprit):", ""]
            lines += [f"- `{info[c].short}` {info[c].date[:10]} {_md(info[c].subject)}" for c in f.candidates]
        return "\n".join(lines) + "\n"
    ci = info[f.culprit]
    files = git.changed_files(f.repo, f.culprit)
    parent = (git.parents(f.repo, f.culprit) or [None])[0]
    confirm = {r["commit"]: r for r in f.records if r.get("phase") == "confirm"}
    lines += [
        f"**`{ci.sha}`** {ci.subject}", "",
        f"- Author: {ci.author}", f"- Date: {ci.date}",
        f"- Confirmed on a fresh re-run (culprit bad, parent good): "
        f"{'yes' if f.confirmed else 'NO: see bisect_log.md'}",
        "", "## Metrics", "",
        f"- parent `{parent[:10] if parent else '-'}`: {_metrics_cell(confirm.get(parent))}",
        f"- culprit `{ci.short}`: {_metrics_cell(confirm.get(f.culprit))}",
        "", "## Files changed", "",
        *[f"- `{p}`" for p in files],
        "", "## Modules", "", *[f"- `{m}`" for m in modules_of(files)],
        "", "## Diffstat", "", "```", git.diffstat(f.repo, f.culprit), "```", "",
        "## Conclusion", "", f.conclusion, "",
    ]
    if figure is not None:
        lines += ["## Images", "", *figures.explain(figure, "the reference", "the culprit",
                                                        ("the parent",) if "parent" in f.pictures else ()), ""]
    return "\n".join(lines)


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
            "reproduce": f.reproduce, "config": f.config, "records": f.records}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def last_line(text: str | None, limit: int = 120) -> str:
    """The line of a reason that names the error (a traceback ends with it), shortened."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
