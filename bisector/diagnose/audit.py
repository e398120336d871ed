"""`bisector audit`: gather the evidence of earlier runs and see how good runs differ from bad.

Under a folder, every ``*.json`` is read. Two shapes are results:

- a list of benchmark records (dicts with keys such as ``size``, ``correlation_warm``,
  ``correlation_cold``, ``c_time``, ``py_time_warm``, ``speedup_warm``): one run per record;
- a dict with ``correlation`` and/or ``sum_ratio`` (a ``summary.json``): one run.

Anything else is skipped with the reason. ``commands.txt`` and ``env.json`` beside a result
are its context: the command lines, simulator arguments, environment variables, device,
dtype and library versions that ``param_diff.md`` compares between good and bad runs.
Missing keys are never an error: the value shows as "-" and the gap is listed.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Thresholds
from ..errors import BisectorError
from ..report.bundle import new_report_dir
from ..files import atomic_write
from ..report.text import table_cell

BENCH_KEYS = {"size", "correlation", "correlation_warm", "correlation_cold", "sum_ratio", "c_time",
              "py_time_warm", "py_time_cold", "speedup_warm", "speedup_cold"}
METRIC_KEYS = BENCH_KEYS | {"rmse", "max_abs_diff", "verdict", "reason"}
CONTEXT_FILES = ("env.json", "commands.txt")
_SHA_KEYS = ("git_sha", "git_commit", "commit", "sha", "git.sha", "git.commit", "git.head", "revision")
_TIME_KEYS = ("timestamp", "time", "date", "created", "started", "start_time")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_STAMP = re.compile(r"(\d{8}T\d{6}Z?|\d{4}-\d{2}-\d{2}[T_ ]?\d{0,2}[:-]?\d{0,2}[:-]?\d{0,2})")
_FLAG = re.compile(r"^-[A-Za-z_]")
MAX_DEPTH = 100  # results are a few levels deep; deeper nesting is not a result (and would recurse)
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class Run:
    """One earlier run as found on disk; ``context`` maps a parameter to its value."""

    source: str                     # file, with [i] for the i-th record of a list
    folder: Path
    stamp: str | None
    size: Any = None
    correlation: float | None = None
    correlation_cold: float | None = None
    sum_ratio: float | None = None
    verdict: str = "unknown"
    reason: str = ""
    git_sha: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Audit:
    root: Path
    thresholds: Thresholds
    runs: list[Run] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def of(self, verdict: str) -> list[Run]:
        return [r for r in self.runs if r.verdict == verdict]


@dataclass
class AuditResult:
    audit: Audit
    report_dir: Path


# -- reading ---------------------------------------------------------------------------------

def collect(root: Path, thresholds: Thresholds = Thresholds()) -> Audit:
    """Every run under ``root``; BisectorError when the folder is missing or holds no result."""
    root = Path(root)
    if not root.exists():
        raise BisectorError(f"folder {root} does not exist", hint="pass the folder that holds earlier results")
    if not root.is_dir():
        raise BisectorError(f"{root} is not a folder", hint="pass the folder that holds earlier results")
    audit = Audit(root=root, thresholds=thresholds)
    files = sorted(p for p in root.rglob("*.json") if p.is_file() and p.name != "env.json")
    contexts: dict[Path, tuple[dict, list[str], dict]] = {}
    for path in files:
        rel = _rel(path, root)
        data, problem = _read_json(path)
        if problem:
            audit.skipped.append(Skipped(rel, problem))
            continue
        records, problem = _records(data)
        if problem:
            audit.skipped.append(Skipped(rel, problem))
            continue
        if path.parent not in contexts:
            contexts[path.parent] = _context(path.parent, root, audit.skipped)
        env, commands, flat = contexts[path.parent]
        for i, record in enumerate(records):
            source = rel if len(records) == 1 else f"{rel}[{i}]"
            audit.runs.append(_run(source, path, record, env, commands, flat, thresholds))
    if not audit.runs:
        detail = f"{len(files)} JSON files, none of them a result" if files else "no JSON files"
        first = f" (e.g. {audit.skipped[0].path}: {audit.skipped[0].reason})" if audit.skipped else ""
        raise BisectorError(f"found no benchmark results under {root}: {detail}{first}",
                            hint="results are JSON lists of records (size, correlation_warm, ...) "
                                 "or summary.json files with correlation/sum_ratio")
    return audit


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    if not text.strip():
        return None, "empty file"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        what = "truncated JSON" if exc.pos >= len(text.rstrip()) else "malformed JSON"
        return None, f"{what} (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    except RecursionError:  # the parser's own limit, near 1,000 levels
        return None, f"JSON nested deeper than {MAX_DEPTH} levels: not a result"
    if _depth_exceeds(data, MAX_DEPTH):
        return None, f"JSON nested deeper than {MAX_DEPTH} levels: not a result"
    return data, None


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep; without recursion, so any depth is safe."""
    todo = [(data, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _records(data: Any) -> tuple[list[dict], str | None]:
    if isinstance(data, dict):
        if "correlation" in data or "sum_ratio" in data:
            return [data], None
        if "records" in data and "walk" in data:
            return [], "a bisector run's results.json (its verdicts are in bisect_log.md), not a benchmark result"
        return [], f"an object without correlation or sum_ratio (keys: {_keys(data)})"
    if isinstance(data, list):
        records = [r for r in data if isinstance(r, dict) and BENCH_KEYS & set(r)]
        if not records:
            return [], "a list without benchmark records (no size/correlation/timing keys)"
        return records, None
    return [], f"a JSON {type(data).__name__}, not a list of records or an object"


def _keys(data: dict, n: int = 5) -> str:
    keys = list(data)
    return ", ".join(map(str, keys[:n])) + (", ..." if len(keys) > n else "") if keys else "none"


def _context(folder: Path, root: Path, skipped: list[Skipped]) -> tuple[dict, list[str], dict]:
    """env.json (flattened) and commands.txt (lines, arguments, env assignments) of a folder."""
    env: dict = {}
    env_path = folder / "env.json"
    if env_path.is_file():
        data, problem = _read_json(env_path)
        if problem or not isinstance(data, dict):
            skipped.append(Skipped(_rel(env_path, root), problem or "env.json is not an object"))
        else:
            env = data
    commands: list[str] = []
    cmd_path = folder / "commands.txt"
    if cmd_path.is_file():
        try:
            commands = [line.strip() for line in cmd_path.read_text(errors="replace").splitlines()
                        if line.strip() and not line.strip().startswith("#")]
        except OSError as exc:
            skipped.append(Skipped(_rel(cmd_path, root), f"cannot read: {exc.strerror}"))
    flat = {**_flatten(env), **_command_params(commands)}
    return env, commands, flat


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        out[prefix[:-1]] = " ".join(map(str, data))
    elif prefix:
        out[prefix[:-1]] = str(data)
    return out


def _command_params(commands: list[str]) -> dict[str, str]:
    """``env.NAME`` for leading NAME=value words, ``arg.-flag`` for simulator flags."""
    params: dict[str, str] = {}
    for line in commands:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        while words and _ENV_ASSIGN.match(words[0]):
            name, _, value = words.pop(0).partition("=")
            params[f"env.{name}"] = value
        flag = None
        for word in words[1:]:
            if _FLAG.match(word):
                flag = word
                params[f"arg.{flag}"] = ""
            elif flag is not None:
                params[f"arg.{flag}"] = (params[f"arg.{flag}"] + " " + word).strip()
    return params


def _run(source: str, path: Path, record: dict, env: dict, commands: list[str], flat: dict,
         thresholds: Thresholds) -> Run:
    corr = _number(record.get("correlation"))
    if corr is None:
        corr = _number(record.get("correlation_warm"))
    run = Run(source=source, folder=path.parent, stamp=_stamp(record, env, path),
              size=record.get("size"), correlation=corr,
              correlation_cold=_number(record.get("correlation_cold")),
              sum_ratio=_number(record.get("sum_ratio")), git_sha=_sha(record, env), commands=commands)
    if run.correlation is None and run.correlation_cold is not None:
        run.correlation = run.correlation_cold
    run.verdict, run.reason = _verdict(run, thresholds)
    record_params = {f"record.{k}": v for k, v in _flatten({k: v for k, v in record.items()
                                                            if k not in METRIC_KEYS}).items()}
    run.context = {**flat, **record_params}
    return run


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _verdict(run: Run, t: Thresholds) -> tuple[str, str]:
    if run.correlation is None:
        return "unknown", "no correlation recorded"
    reasons = []
    if run.correlation < t.min_correlation:
        reasons.append(f"correlation {run.correlation:.6f} < {t.min_correlation:g}")
    if run.sum_ratio is not None and abs(run.sum_ratio - 1) > t.max_sum_ratio_error:
        reasons.append(f"sum ratio {run.sum_ratio:.6f} off by more than {t.max_sum_ratio_error:g}")
    if reasons:
        return "bad", "; ".join(reasons)
    return "good", "correlation only (no sum ratio recorded)" if run.sum_ratio is None else "within thresholds"


def _sha(record: dict, env: dict) -> str | None:
    for source in (_flatten(record), _flatten(env)):
        for key in _SHA_KEYS:
            value = str(source.get(key, "")).strip().lower()
            if _SHA.match(value):
                return value
    return None


def _stamp(record: dict, env: dict, path: Path) -> str | None:
    for source in (record, env):
        for key in _TIME_KEYS:
            if source.get(key) not in (None, ""):
                return str(source[key])
    for part in reversed(path.parent.parts):
        match = _STAMP.search(part)
        if match and len(match.group(1)) >= 8:
            return match.group(1)
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)) + " (file time)"
    except OSError:
        return None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- reports ---------------------------------------------------------------------------------

def run_audit(root: Path, *, thresholds: Thresholds = Thresholds(), report_root: Path | None = None) -> AuditResult:
    """Collect the runs under ``root`` and write artifact_matrix.md and param_diff.md."""
    audit = collect(root, thresholds)
    report_dir = new_report_dir(Path(report_root) if report_root else Path.cwd() / "reports" / "audit")
    atomic_write(report_dir / "artifact_matrix.md", ("\n".join(artifact_matrix(audit)) + "\n").encode())
    atomic_write(report_dir / "param_diff.md", ("\n".join(param_diff(audit)) + "\n").encode())
    return AuditResult(audit, report_dir)


def artifact_matrix(audit: Audit) -> list[str]:
    t = audit.thresholds
    lines = ["# Artifact matrix", "",
             f"{len(audit.runs)} runs under {_code(str(audit.root))}: {len(audit.of('good'))} good, "
             f"{len(audit.of('bad'))} bad, {len(audit.of('unknown'))} unknown. Verdicts under the "
             f"thresholds correlation >= {t.min_correlation:g} and |sum ratio - 1| <= {t.max_sum_ratio_error:g}.",
             "", "| path | time stamp | size | correlation | sum ratio | verdict | git sha |",
             "|---|---|---|---|---|---|---|"]
    for r in audit.runs:
        corr = _f(r.correlation, ".6f")
        if r.correlation_cold is not None and r.correlation_cold != r.correlation:
            corr += f" (cold {r.correlation_cold:.6f})"
        verdict = r.verdict if r.reason in ("within thresholds", "") else f"{r.verdict}: {r.reason}"
        lines.append(f"| {_code(r.source)} | {_cell(r.stamp or '-')} | {_cell(r.size)} | {corr} | {_f(r.sum_ratio, '.6f')} | "
                     f"{table_cell(verdict)} | {('`' + r.git_sha[:12] + '`') if r.git_sha else 'no provenance'} |")
    if audit.skipped:
        lines += ["", "## Skipped", "", "| file | why |", "|---|---|"]
        lines += [f"| {_code(s.path)} | {table_cell(s.reason)} |" for s in audit.skipped]
    return lines


CATEGORIES = (("commands", "command lines"), ("arg.", "simulator arguments"), ("env.", "environment variables"),
              ("device", "device"), ("dtype", "dtype"), ("versions", "library versions"), ("other", "other"))


def category(key: str) -> str:
    low = key.lower()
    if low.startswith("arg."):
        return "simulator arguments"
    if low.startswith(("env.", "environ")) or ".env." in low:
        return "environment variables"
    if "device" in low or "cuda" in low:
        return "device"
    if "dtype" in low or "precision" in low:
        return "dtype"
    if any(w in low for w in ("version", "packages", "torch", "numpy", "python", "libs")):
        return "library versions"
    return "other"


def param_diff(audit: Audit) -> list[str]:
    good, bad = audit.of("good"), audit.of("bad")
    lines = ["# Parameter differences between good and bad runs", "",
             f"{len(good)} good runs, {len(bad)} bad runs ({len(audit.of('unknown'))} with no verdict are left out).", ""]
    if good and bad:
        lines += _differences(good, bad) + [""] + _command_lines(good, bad)
    else:
        lines += [f"Nothing to compare: there are no {'good' if not good else 'bad'} runs.", ""]
    lines += ["", "## Open questions", ""] + [f"- {q}" for q in open_questions(audit)]
    return lines


def _differences(good: list[Run], bad: list[Run]) -> list[str]:
    keys = sorted({k for r in good + bad for k in r.context if not _identity(k)},
                  key=lambda k: (_order(category(k)), k))
    rows = []
    for key in keys:
        gv, bv = _values(good, key), _values(bad, key)
        if set(gv) == set(bv):
            continue  # runs that did not record the key do not make a difference
        if gv and bv:
            note = "separates good from bad" if not set(gv) & set(bv) else ""
        else:
            note = f"recorded in {'good' if gv else 'bad'} runs only"
        rows.append(f"| {category(key)} | {_code(key)} | {_counted(gv, len(good))} | {_counted(bv, len(bad))} | {note} |")
    if not rows:
        return ["No recorded parameter differs between good and bad runs: the difference lies in "
                "something not recorded (see the open questions)."]
    return ["## Parameters whose values differ", "",
            "| kind | parameter | good runs | bad runs | note |", "|---|---|---|---|---|", *rows]


def _identity(key: str) -> bool:
    """Provenance and time stamps differ between any two runs: they are not parameters."""
    bare = key.removeprefix("record.")
    return bare in _SHA_KEYS or bare in _TIME_KEYS


def _order(cat: str) -> int:
    names = [c[1] for c in CATEGORIES]
    return names.index(cat) if cat in names else len(names)


def _values(runs: list[Run], key: str) -> Counter:
    return Counter(r.context[key] for r in runs if key in r.context)


def _counted(values: Counter, runs: int) -> str:
    cells = [_code(str(v)[:60]) + (f" x{n}" if n > 1 else "") for v, n in values.most_common()]
    missing = runs - sum(values.values())
    if missing:
        cells.append(f"not recorded x{missing}")
    return "; ".join(cells)


def _command_lines(good: list[Run], bad: list[Run]) -> list[str]:
    g = Counter(c for r in good for c in r.commands)
    b = Counter(c for r in bad for c in r.commands)
    only_good, only_bad = [c for c in g if c not in b], [c for c in b if c not in g]
    if not only_good and not only_bad:
        return []
    lines = ["## Command lines", ""]
    for label, cmds in (("only in good runs", only_good), ("only in bad runs", only_bad)):
        if cmds:
            lines += [f"{label}:", "", "```", *cmds, "```", ""]
    return lines


def open_questions(audit: Audit) -> list[str]:
    questions = []
    no_sha = [r.source for r in audit.runs if not r.git_sha]
    if no_sha:
        questions.append(f"{len(no_sha)} runs record no git sha (no provenance): which code produced "
                         f"them? {', '.join(_code(s) for s in no_sha)}")
    unknown = [r.source for r in audit.of("unknown")]
    if unknown:
        questions.append(f"{len(unknown)} runs record no correlation, so they have no verdict: "
                         f"{', '.join(_code(s) for s in unknown)}")
    no_ratio = [r.source for r in audit.runs if r.correlation is not None and r.sum_ratio is None]
    if no_ratio:
        questions.append(f"{len(no_ratio)} runs record no sum ratio, judged on correlation alone "
                         "(a wrong scale factor passes a correlation test)")
    split = [r.source for r in audit.runs if r.correlation_cold is not None and r.correlation is not None
             and (r.correlation_cold >= audit.thresholds.min_correlation) != (r.correlation >= audit.thresholds.min_correlation)]
    if split:
        questions.append(f"warm and cold correlation give different verdicts in {', '.join(_code(s) for s in split)}: "
                         "state carried between runs?")
    no_context = sorted({table_cell(str(r.folder.name)) for r in audit.runs if not r.commands and not r.context})
    if no_context:
        questions.append(f"no commands.txt or env.json beside the results in {', '.join(no_context)}: "
                         "their parameters cannot be compared")
    if audit.skipped:
        questions.append(f"{len(audit.skipped)} files were skipped (see artifact_matrix.md): are they results in another format?")
    return questions or ["none: every run has a verdict, a git sha and its context"]


def _f(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cell(value: Any) -> str:
    return "-" if value is None else table_cell(str(value))


def _code(text: str) -> str:
    """``text`` as inline code that stays in its table cell, whatever a file name holds."""
    cell = table_cell(text)
    return f"`` {cell} ``" if "`" in cell else f"`{cell}`"
