"""The report bundle a person acts on: markdown for reading, JSON for machines, PNGs for eyes.

reports/bisect/<STAMP>/
  git_walk.md         the range, how many commits touch the relevant paths, endpoint evidence
  bisect_log.md       one row per scored commit
  culprit_summary.md  the culprit, what it changed, metrics before and after
  commands.txt        one command that reproduces the verdict
  env.json, results.json
  reference.png, culprit.png, parent.png, difference.png
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
from . import images
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
    confirmation: dict = field(default_factory=dict)  # which runs confirm each side (hunt/confirm.py)


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
    (report_dir / "culprit_summary.md").write_text(_culprit_md(findings, info))
    (report_dir / "commands.txt").write_text(shlex.join(findings.reproduce) + "\n" if findings.reproduce else "")
    (report_dir / "env.json").write_text(json.dumps(environment(), indent=2) + "\n")
    (report_dir / "results.json").write_text(json.dumps(_results(findings), indent=2, default=str) + "\n")
    for name, image in findings.pictures.items():
        images.save_png(report_dir / f"{name}.png", image, signed=(name == "difference"))
    return report_dir


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


def _culprit_md(f: RunFindings, info: dict) -> str:
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
    lines += [
        f"**`{ci.sha}`** {ci.subject}", "",
        f"- Author: {ci.author}", f"- Date: {ci.date}",
        f"- Confirmed on fresh full-scenario runs (culprit bad, parent good): "
        f"{'yes' if f.confirmed else 'NO: see bisect_log.md'}",
        "", "## Metrics", "",
        f"- parent `{parent[:10] if parent else '-'}`: {_metrics_cell(_evidence(f, 'parent'))}",
        f"- culprit `{ci.short}`: {_metrics_cell(_evidence(f, 'culprit'))}",
        "", "## Confirmation", "", *_confirmation_lines(f),
        "", "## Files changed", "",
        *[f"- `{p}`" for p in files],
        "", "## Modules", "", *[f"- `{m}`" for m in modules_of(files)],
        "", "## Diffstat", "", "```", git.diffstat(f.repo, f.culprit), "```", "",
        "## Conclusion", "", f.conclusion, "",
    ]
    return "\n".join(lines)


def _evidence(f: RunFindings, side: str) -> dict | None:
    """The latest run confirming ``side`` ("parent" or "culprit")."""
    runs = f.confirmation.get(side, {}).get("runs", [])
    if not runs:
        return None
    last = runs[-1]
    return next((r for r in reversed(f.records)
                 if r["commit"] == last["commit"] and r.get("phase") == last["phase"]), None)


def _confirmation_lines(f: RunFindings) -> list[str]:
    """Which fresh full-scenario runs confirm each side, and which verdicts a probe gave."""
    lines = []
    for side in ("parent", "culprit"):
        data = f.confirmation.get(side)
        if not data:
            continue
        runs = "; ".join(f"{r['phase']} run of `{r['commit'][:10]}`: {r['verdict']}" for r in data["runs"])
        lines.append(f"- {side} `{data['commit'][:10]}` (should be {data['wanted']}): {runs or 'no run'}")
    probed = [r for r in f.records if any(sc.get("via_probe") for sc in r.get("scenarios", []))]
    if probed:
        named = ", ".join(f"`{r['commit'][:10]}` ({r.get('phase', '')})" for r in probed)
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
            "reproduce": f.reproduce, "config": f.config, "records": f.records,
            "confirmation": f.confirmation}


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def last_line(text: str | None, limit: int = 120) -> str:
    """The line of a reason that names the error (a traceback ends with it), shortened."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
