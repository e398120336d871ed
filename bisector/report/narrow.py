"""The report of a narrowing: narrow.md (read), narrow.json (machines), minimal.patch (apply).

minimal.patch applies the minimal hunks to the parent (``git apply minimal.patch`` on a
checkout of the parent); the markdown names each hunk as ``file:first-last`` with its
enclosing function, and gives the metrics of the parent, the parent with the minimal hunks,
the commit, and the commit without them.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..narrow import hunks as hk
from ..narrow.narrowing import Narrowing, Trial
from ..records import ScoreRecord
from .text import scenario_text, shown


def write_narrowing(n: Narrowing, folder: Path) -> Path:
    """narrow.md, narrow.json and minimal.patch in ``folder`` (made if needed); the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "minimal.patch").write_text(hk.patch(n.minimal_hunks), encoding="utf-8", errors="surrogateescape")
    (folder / "narrow.md").write_text("\n".join(["# Narrowing", "", *section(n, heading_level=2)]) + "\n")
    (folder / "narrow.json").write_text(json.dumps(narrowing_dict(n), indent=2) + "\n")
    return folder


def section(n: Narrowing, heading_level: int = 2) -> list[str]:
    """Markdown lines of a narrowing, headings at ``heading_level`` (also embedded in
    culprit_summary.md and timeline.md)."""
    h = "#" * heading_level
    what = {"break": "the hunks that break parity", "fix": "the hunks that restore parity"}.get(
        n.direction or "", "its hunks")
    lines = [f"`{n.commit[:10]}` against `{n.parent[:10]}`: {what} ({n.granularity} granularity).", "",
             shown(n.conclusion), ""]
    if n.minimal and n.search is not None:
        lines += [f"{h} Minimal hunks", ""]
        for hunk in n.minimal_hunks:
            lines.append(f"- #{hunk.index + 1} `{shown(str(n.places[hunk.index]))}` "
                         f"(+{hunk.added} -{hunk.removed})")
        lines += ["", "As a patch on the parent (`minimal.patch`):", "", "```diff",
                  shown(hk.patch(n.minimal_hunks)).rstrip("\n"), "```", ""]
    lines += [f"{h} Metrics", "", "| state | verdict | scenarios |", "|---|---|---|"]
    for label, record in _states(n):
        lines.append(f"| {label} | {record.verdict.value if record else '-'} | {_scenarios(record)} |")
    lines += ["", f"{h} Hunks", "", "| hunk | where | lines |", "|---|---|---|"]
    for hunk in n.hunks:
        mark = " **minimal**" if hunk.index in n.minimal and n.search is not None else ""
        lines.append(f"| #{hunk.index + 1}{mark} | `{_cell(str(n.places[hunk.index]))}` | +{hunk.added} -{hunk.removed} |")
    if n.trials:
        lines += ["", f"{h} Scorings", "",
                  f"{n.scorings} scorings of hunk subsets (budget {n.budget}); ddmin's worst case for "
                  f"{len(n.hunks)} hunks is {n.bound} tests"
                  + (f"; the search made {n.search.tests}" if n.search else "") + f"; {n.seconds:.0f} s in all.", "",
                  "| # | purpose | hunks | outcome | scenarios |", "|---|---|---|---|---|"]
        for k, trial in enumerate(n.trials, 1):
            lines.append(f"| {k} | {trial.purpose} | {_names(trial)} | {trial.outcome.value} | "
                         f"{_cell(trial.reason) if trial.record is None else _scenarios(trial.record)} |")
    return lines + [""]


def narrowing_dict(n: Narrowing) -> dict:
    def trial(t: Trial | None) -> dict | None:
        if t is None:
            return None
        return {"hunks": [i + 1 for i in t.hunks], "purpose": t.purpose, "outcome": t.outcome.value,
                "reason": t.reason, "record": t.record.to_dict() if t.record else None}

    return {
        "commit": n.commit, "parent": n.parent, "direction": n.direction, "granularity": n.granularity,
        "isolated": n.isolated, "interaction": n.interaction, "exit_code": int(n.exit_code),
        "conclusion": n.conclusion, "seconds": round(n.seconds, 3), "budget": n.budget, "scorings": n.scorings, "ddmin_bound": n.bound,
        "search_tests": n.search.tests if n.search else 0,
        "search_exhausted": n.search.exhausted if n.search else False,
        "minimal": [i + 1 for i in n.minimal] if n.search else [],
        "hunks": [{"hunk": h.index + 1, "path": h.path, "side": n.places[h.index].side,
                   "first": n.places[h.index].first, "last": n.places[h.index].last,
                   "function": n.places[h.index].function, "added": h.added, "removed": h.removed}
                  for h in n.hunks],
        "parent_record": n.parent_record.to_dict() if n.parent_record else None,
        "commit_record": n.commit_record.to_dict() if n.commit_record else None,
        "confirmation": trial(n.confirmation), "complement": trial(n.complement),
        "trials": [trial(t) for t in n.trials],
    }


def _states(n: Narrowing) -> list[tuple[str, ScoreRecord | None]]:
    sign = "+" if n.search is not None else ""
    return [(f"parent `{n.parent[:10]}`", n.parent_record),
            (f"parent {sign} minimal hunks", n.confirmation.record if n.confirmation else None),
            (f"commit `{n.commit[:10]}`", n.commit_record),
            ("commit - minimal hunks", n.complement.record if n.complement else None)]


def _scenarios(record: ScoreRecord | None) -> str:
    if record is None:
        return "not scored"
    return _cell("; ".join(scenario_text(sc) + (" cached" if sc.cached else "") for sc in record.scenarios))


def _names(trial: Trial) -> str:
    return " ".join(f"#{i + 1}" for i in trial.hunks) or "none"


def _cell(text: str) -> str:
    return shown(text).replace("|", "\\|").replace("\n", " ")


NARROWING_HEADING = "## Narrowing"


def add_to_bundle(folder: Path, markdown: str, results: str, narrowings: list[Narrowing]) -> None:
    """Add ``narrowings`` to a hunt's bundle: a "Narrowing" section at the end of
    ``markdown`` (culprit_summary.md, timeline.md) and a "narrow" list in ``results``
    (results.json, timeline.json). A second narrowing of the same bundle replaces the first."""
    md = folder / markdown
    text = md.read_text() if md.is_file() else ""
    text = text.split(f"\n{NARROWING_HEADING}\n", 1)[0].rstrip("\n") + "\n"
    lines = ["", NARROWING_HEADING, ""]
    for n in narrowings:
        if len(narrowings) > 1:
            lines += [f"### {n.direction or 'commit'} `{n.commit[:10]}`", ""]
        lines += section(n, heading_level=4 if len(narrowings) > 1 else 3)
    lines.append(f"Details: narrow.md, narrow.json and minimal.patch "
                 f"{'in narrow-<commit>/' if len(narrowings) > 1 else 'beside this file'}.")
    md.write_text(text + "\n".join(lines) + "\n")
    path = folder / results
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        data = {}
    data["narrow"] = [narrowing_dict(n) for n in narrowings]
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
