"""The scan's report bundle: windows and states in Markdown and JSON, and the timeline plot.

reports/scan/<STAMP>/
  timeline.md     the windows table (first bad, last bad, fixing commit, metrics, confirmation),
                  then one row per state
  timeline.json   the same for machines
  timeline.png    correlation and sum ratio per scenario along the history, windows shaded
  commands.txt    per window: a `bisector run` that re-hunts it, a `bisector score` that re-judges
                  its first bad state as the report did
  env.json

matplotlib (0.6 s) is imported on use, once the verdict is printed and the plot is drawn.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from .. import git
from ..invocation import program
from ..search.windows import PINNED, Transition, Window
from .bundle import environment, timing
from .text import scenario_text, shown

if TYPE_CHECKING:  # the scan driver imports this module to write its bundle
    from ..hunt.scan import ScanResult


@dataclass(frozen=True)
class Series:
    """One scenario's measurements along a history: x positions and values (None: no image)."""

    name: str
    x: list[float]
    correlation: list[float | None]
    sum_ratio: list[float | None]
    # (lowest, highest) correlation of a state run more than once (noisy port), else None
    correlation_range: list[tuple[float, float] | None] = field(default_factory=list)


@dataclass(frozen=True)
class Plot:
    """What the timeline plot shows; shared by `scan` and `history`."""

    title: str
    xlabel: str
    series: list[Series]
    min_correlation: float
    max_sum_ratio_error: float
    windows: list[tuple[float, float, str]]     # shaded: start x, end x, label
    untestable: list[tuple[float, float]]       # hatched: start x, end x
    x_end: float
    unscored: list[tuple[float, float]] = field(default_factory=list)   # dotted: left by a budget
    xticks: list[tuple[float, str]] | None = None   # x, label (default: matplotlib's)


def write_scan_bundle(result: ScanResult, report_dir: Path) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    infos = _infos(result)
    (report_dir / "timeline.md").write_text(timeline_md(result, infos))
    (report_dir / "timeline.json").write_text(json.dumps(timeline_dict(result), indent=2) + "\n")
    (report_dir / "env.json").write_text(json.dumps(environment(), indent=2) + "\n")
    commands = [shlex.join(argv) for w in result.timeline.windows
                for argv in (_rehunt_argv(result, w), window_dict(result, w)["reproduce"]) if argv]
    (report_dir / "commands.txt").write_text("".join(c + "\n" for c in commands))
    return report_dir


def save_scan_plot(result: ScanResult, report_dir: Path) -> Path:
    """timeline.png: drawn once the verdict is out (matplotlib costs seconds to start)."""
    return save_plot(scan_plot(result), report_dir / "timeline.png")


# -- data ------------------------------------------------------------------------------------

def window_dict(result: ScanResult, w: Window) -> dict:
    runs = result.runs
    first_bad = w.start.commits[0] if w.start and w.start.kind == PINNED else None
    if w.start is None:
        first_bad = runs[w.first_bad_run].first  # bad from the first commit of the range
    return {
        "first_bad": first_bad,
        "first_bad_candidates": list(w.start.commits) if w.start and w.start.kind != PINNED else [],
        "break": _transition_dict(result, w.start),
        "last_bad": runs[w.last_bad_run].last,
        "fix": w.end.commits[0] if w.end and w.end.kind == PINNED else None,
        "fix_candidates": list(w.end.commits) if w.end and w.end.kind != PINNED else [],
        "fixed": _transition_dict(result, w.end),
        "metrics": _scenarios(result.window_record(w)),   # full size, never a probe's
        "reproduce": result.reproduce.get(runs[w.first_bad_run].first, []),
    }


def _scenarios(record) -> list[dict]:
    return [sc.to_dict() for sc in record.scenarios] if record else []


def _transition_dict(result: ScanResult, t: Transition | None) -> dict | None:
    if t is None:
        return None
    c = result.confirmations.get(t.commits[0]) if t.kind == PINNED else None
    return {"kind": t.kind, "to": t.to.value, "commits": list(t.commits),
            "confirmed": result.confirmed(t),
            "fresh": [r.to_dict() for r in c.records] if c else []}


def timeline_dict(result: ScanResult) -> dict:
    position = {sha: i for i, sha in enumerate(result.commits)}
    states = []
    for i, run in enumerate(result.runs):
        verdict = result.timeline.verdicts.get(i)
        record = result.record_of(i)  # an untestable state's too: an unresolved noisy one has runs
        states.append({"index": i, "first": run.first, "last": run.last, "commits": len(run.commits),
                       "position": position[run.first], "tree_ids": list(run.key),
                       "verdict": verdict.value if verdict else None,
                       "flaky": bool(record) and any(sc.flaky for sc in record.scenarios),
                       "scenarios": _scenarios(record)})
    return {
        "repo": str(result.repo), "good": result.good, "bad": result.bad, "paths": list(result.paths),
        "scenarios": list(result.judge), "thresholds": result.thresholds,
        "first_parent_commits": len(result.commits), "stretches": len(result.runs),
        "distinct_states": result.distinct_states, "scored_states": result.scored_states,
        "fresh_states": result.fresh_states, "budget": result.budget, "seconds": result.seconds,
        "windows": [window_dict(result, w) for w in result.timeline.windows],
        "unscored": [{"first": result.runs[s.start].first, "last": result.runs[s.stop - 1].last,
                      "states": s.stop - s.start} for s in result.timeline.unscored],
        "states": states, "conclusion": result.conclusion, "exit_code": result.exit_code,
        "timing": timing(scorings(result), result.seconds),
    }


def scorings(result: ScanResult) -> list:
    """Every scoring the scan made: the states in judging order, the confirmations' fresh
    re-runs, the full-size re-scorings of windows convicted by a probe."""
    return ([result.records[key] for key in result.judged_order]
            + [r for c in result.confirmations.values() for r in c.reruns] + list(result.full_records.values()))


def _rehunt_argv(result: ScanResult, w: Window) -> list[str]:
    if not (w.start and w.start.kind == PINNED):
        return []
    return [*program(), "run", "--repo", str(result.repo), "--good", result.runs[w.start.before].last,
            "--bad", w.start.commits[0], *result.judge_options]


# -- markdown --------------------------------------------------------------------------------

def _infos(result: ScanResult) -> dict[str, git.CommitInfo]:
    shas = {result.good, result.bad} | {r.first for r in result.runs} | {r.last for r in result.runs}
    return {s: git.commit_info(result.repo, s) for s in shas}


def _ref(infos: dict, sha: str | None) -> str:
    if not sha:
        return "-"
    ci = infos.get(sha)
    return f"`{sha[:10]}` {_md(shown(ci.subject)[:60])}" if ci else f"`{sha[:10]}`"


def _candidates(infos: dict, shas: list[str]) -> str:
    return f"one of {len(shas)}: " + ", ".join(f"`{s[:10]}`" for s in shas)


def _confirmed_cell(t: dict | None) -> str:
    if t is None:
        return "-"
    if t["kind"] != PINNED:
        return t["kind"]
    return {True: "yes", False: "NO", None: "not re-run"}[t["confirmed"]]


def timeline_md(result: ScanResult, infos: dict[str, git.CommitInfo]) -> str:
    good, bad = infos[result.good], infos[result.bad]
    lines = [
        "# Timeline", "",
        f"- Repository: `{result.repo}`",
        f"- Range: `{good.short}` ({good.date[:10]}) .. `{bad.short}` ({bad.date[:10]}), first-parent history",
        f"- Commits: {len(result.commits)}; stretches of equal {', '.join(result.paths)}: {len(result.runs)}; "
        f"distinct states: {result.distinct_states}",
        f"- States scored: {result.scored_states} ({result.fresh_states} run, the rest from the cache)"
        + (f", budget {result.budget}" if result.budget is not None else ""),
        f"- Scenarios judged: {', '.join(result.judge)}; good = correlation >= "
        f"{result.thresholds['min_correlation']:g} and |sum_ratio - 1| <= {result.thresholds['max_sum_ratio_error']:g}",
        "", "## Windows", "",
    ]
    windows = [window_dict(result, w) for w in result.timeline.windows]
    firsts = [result.window_record(w) for w in result.timeline.windows]
    if windows:
        lines += ["| # | first bad | last bad | fixed by | metrics at the first bad state | break confirmed | fix confirmed |",
                  "|---|---|---|---|---|---|---|"]
        for n, (w, first_record) in enumerate(zip(windows, firsts), 1):
            first = _ref(infos, w["first_bad"]) if w["first_bad"] else _candidates(infos, w["first_bad_candidates"])
            if w["break"] is None:
                first += " (bad from the start of the range)"
            if w["fix"]:
                fix = _ref(infos, w["fix"])
            elif w["fix_candidates"]:
                fix = _candidates(infos, w["fix_candidates"])
            else:
                fix = "not fixed at the end of the range"
            metrics = _metrics(first_record)
            lines.append(f"| {n} | {first} | {_ref(infos, w['last_bad'])} | {fix} | {_md(metrics)} | "
                         f"{_confirmed_cell(w['break'])} | {_confirmed_cell(w['fixed'])} |")
    else:
        lines.append("No window: no scored state is bad.")
    if result.timeline.unscored:
        lines += ["", "## Left unscored (budget)", ""]
        for s in result.timeline.unscored:
            around = s.verdict.value if s.verdict else "unknown"
            lines.append(f"- {s.stop - s.start} states from `{result.runs[s.start].first[:10]}` to "
                         f"`{result.runs[s.stop - 1].last[:10]}` (both sides {around}): may hide a window")
    lines += ["", "## Conclusion", "", result.conclusion, "", "## States", "",
              "| # | first commit | commits | verdict | metrics |", "|---|---|---|---|---|"]
    for i, run in enumerate(result.runs):
        verdict = result.timeline.verdicts.get(i)
        record = result.record_of(i) if verdict else None
        metrics = _metrics(record) if record else "not scored"
        lines.append(f"| {i} | {_ref(infos, run.first)} | {len(run.commits)} | "
                     f"{verdict.value if verdict else '-'} | {_md(metrics)} |")
    return "\n".join(lines) + "\n"


def _metrics(record) -> str:
    return shown("; ".join(scenario_text(sc) for sc in record.scenarios)) if record else "-"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


# -- the plot --------------------------------------------------------------------------------

def scan_plot(result: ScanResult) -> Plot:
    position = {sha: i for i, sha in enumerate(result.commits)}
    series = []
    for name in result.judge:
        xs, corr, ratio, spread = [], [], [], []
        for i, run in enumerate(result.runs):
            record = result.record_of(i) if i in result.timeline.verdicts else None
            sc = next((s for s in record.scenarios if s.name == name), None) if record else None
            xs.append(position[run.first])
            corr.append(sc.correlation if sc else None)
            ratio.append(sc.sum_ratio if sc else None)
            c = sc.spread["correlation"] if sc and sc.runs > 1 and sc.spread else None
            spread.append((c["min"], c["max"]) if c and c["min"] is not None and c["max"] is not None else None)
        series.append(Series(name, xs, corr, ratio, spread))
    end = len(result.commits)
    windows = []
    for w in result.timeline.windows:
        start = position[result.runs[w.first_bad_run].first]
        stop = position[w.end.commits[0]] if w.end and w.end.kind == PINNED else position[result.runs[w.last_bad_run].last] + 1
        label = w.start.commits[0][:7] if w.start and w.start.kind == PINNED else "?"
        windows.append((start, stop, label))
    skips = [(position[result.runs[i].first], position[result.runs[i].last] + 1) for i in result.timeline.untestable]
    unscored = [(position[result.runs[s.start].first], position[result.runs[s.stop - 1].last] + 1)
                for s in result.timeline.unscored]
    good = result.good[:10]
    return Plot(title=f"parity along {good}..{result.bad[:10]} (first parent)",
                xlabel=f"first-parent commits after {good}", series=series,
                min_correlation=result.thresholds["min_correlation"],
                max_sum_ratio_error=result.thresholds["max_sum_ratio_error"],
                windows=windows, untestable=skips, x_end=end, unscored=unscored)


def save_plot(plot: Plot, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = figure(plot)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure(plot: Plot):
    """Two panels on log scales: 1 - correlation (so 0.996 and 0.11 both read) and sum ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, constrained_layout=True)
    for s in plot.series:
        top.step(s.x + [plot.x_end], _extend([_one_minus(c) for c in s.correlation]), where="post",
                 label=s.name, linewidth=1.6)
        bottom.step(s.x + [plot.x_end], _extend([_finite(r) for r in s.sum_ratio]), where="post",
                    label=s.name, linewidth=1.6)
        ranged = [(x, r) for x, r in zip(s.x, s.correlation_range) if r is not None]
        if ranged:  # the range of a repeated state's runs, at the state's first commit
            top.vlines([x for x, _ in ranged], [_one_minus(hi) for _, (lo, hi) in ranged],
                       [_one_minus(lo) for _, (lo, hi) in ranged], colors="black", linewidth=2.5,
                       label=f"{s.name}: range of repeated runs")
    top.axhline(1 - plot.min_correlation, color="black", linestyle="--", linewidth=1,
                label=f"threshold (correlation {plot.min_correlation:g})")
    top.set_yscale("log")
    top.set_ylabel("1 - correlation")
    bottom.axhspan(1 - plot.max_sum_ratio_error, 1 + plot.max_sum_ratio_error, color="black", alpha=0.15,
                   label=f"|sum ratio - 1| <= {plot.max_sum_ratio_error:g}")
    bottom.axhline(1, color="black", linestyle="--", linewidth=1)
    bottom.set_yscale("log")  # a unit slip gives x50, an oversample slip x2: both must read
    bottom.set_ylabel("sum ratio (candidate / reference)")
    bottom.set_xlabel(plot.xlabel)
    for ax in (top, bottom):
        for n, (start, stop, label) in enumerate(plot.windows):
            ax.axvspan(start, stop, color="tab:red", alpha=0.15, label="bad window" if n == 0 and ax is top else None)
        for n, (start, stop) in enumerate(plot.untestable):
            ax.axvspan(start, stop, facecolor="none", edgecolor="grey", hatch="//", linewidth=0,
                       label="untestable" if n == 0 and ax is top else None)
        for n, (start, stop) in enumerate(plot.unscored):
            ax.axvspan(start, stop, facecolor="none", edgecolor="tab:blue", hatch="..", linewidth=0,
                       label="unscored (budget): may hide a window" if n == 0 and ax is top else None)
        ax.set_xlim(0, max(plot.x_end, 1))
        ax.grid(True, alpha=0.3)
        _plain_log_ticks(ax)
    if plot.xticks:
        bottom.set_xticks([x for x, _ in plot.xticks], [label for _, label in plot.xticks])
    for start, stop, label in plot.windows:
        top.annotate(label, xy=(start, 1), xycoords=("data", "axes fraction"), xytext=(2, -12),
                     textcoords="offset points", fontsize=8, color="tab:red")
    top.set_title(plot.title)
    top.legend(loc="best", fontsize=8, ncols=2, framealpha=0.9)
    bottom.legend(loc="best", fontsize=8, framealpha=0.9)
    return fig


def _plain_log_ticks(ax) -> None:
    """Log-axis tick labels as plain numbers (1.01, 0.001), never 1.01x10^0."""
    from matplotlib.ticker import LogFormatter

    ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _extend(values: list[float]) -> list[float]:
    return values + values[-1:] if values else values


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else math.nan


def _one_minus(corr: float | None) -> float:
    # A perfect match would be log(0): clamp it just below anything a float32 port reaches.
    if corr is None or not math.isfinite(corr):
        return math.nan
    return max(1.0 - corr, 1e-9)


# -- the console -----------------------------------------------------------------------------

def print_timeline(console, result: ScanResult) -> None:
    """The windows, one block each, then the conclusion and where the bundle is."""

    console.print()
    infos = _infos(result)
    for n, w in enumerate(result.timeline.windows, 1):
        d = window_dict(result, w)
        first = (f"{d['first_bad'][:10]} {shown(infos[d['first_bad']].subject)}" if d["first_bad"]
                 else "one of " + " ".join(c[:10] for c in d["first_bad_candidates"]))
        fix = (f"{d['fix'][:10]} {shown(infos[d['fix']].subject)}" if d["fix"]
               else "one of " + " ".join(c[:10] for c in d["fix_candidates"]) if d["fix_candidates"]
               else "not fixed at the end of the range")
        console.print(Text(f"window {n}", style="bold").append(f": first bad {first}  ", style="")
                      .append(f"({_confirmed_word(d['break'])})", style="dim"))
        console.print(Text(f"  last bad {d['last_bad'][:10]}; fixed by {fix}  ")
                      .append(f"({_confirmed_word(d['fixed'])})", style="dim"))
        record = result.window_record(w)
        for sc in record.scenarios if record else []:
            console.print(f"  {shown(scenario_text(sc))}", markup=False)
        if d["reproduce"]:
            # never wrapped: it is meant to be copied and pasted
            console.print(f"  reproduce with: {shlex.join(d['reproduce'])}", markup=False, soft_wrap=True)
    for s in result.timeline.unscored:
        console.print(f"unscored: {s.stop - s.start} states from {result.runs[s.start].first[:10]} "
                      f"to {result.runs[s.stop - 1].last[:10]}", markup=False)
    console.print(f"{result.scored_states} of {result.distinct_states} distinct states scored "
                  f"({result.fresh_states} run, the rest cached) in {result.seconds:.0f} s", markup=False)
    console.print(result.conclusion, markup=False)
    if result.report_dir:
        console.print(f"report: {result.report_dir} (timeline.md, timeline.json, timeline.png)", markup=False)


def _confirmed_word(t: dict | None) -> str:
    if t is None:
        return "range edge"
    if t["kind"] != PINNED:
        return f"{t['kind']}: not one commit"
    return {True: "confirmed", False: "NOT confirmed on fresh full-size runs",
            None: "not confirmed"}[t["confirmed"]]
