"""The result files `audit` reads, each turned into the runs it records.

bisector writes seven shapes, and benchmark scripts two more:

- a run bundle's ``results.json`` (report/bundle.py): every scored record, each scenario a run,
  with the port's configuration (scenario arguments, thresholds, reference);
- ``score --json`` output: one ScoreRecord (records.py), each scenario a run;
- compare's ``summary.json``: one run; a commit candidate's sha is its provenance;
- ``nightly.json``: the tip's scenarios, the tip's sha;
- scan's ``timeline.json``: each scored state's scenarios, and the runs that confirm each break;
- verify's ``verify.json``: one run per check, with the verdict it recorded (no metrics);
- narrow's ``narrow.json``: the parent, the commit, and each scoring of the parent with a
  subset of the commit's hunks applied (the hunks are an input). The copy a narrowing adds to
  results.json or timeline.json is left to the narrow.json written beside it;
- a list of benchmark records (``size``, ``correlation_warm``, ...), or a dict with
  ``correlation``/``sum_ratio``: one run per record.

Every run keeps what went in (``inputs``: arguments, environment, versions, reference,
thresholds, scenario) apart from what came out (``outputs``: the measured metrics), because
only an input can be why good and bad runs differ.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

BENCH_KEYS = {"size", "correlation", "correlation_warm", "correlation_cold", "sum_ratio", "c_time",
              "py_time_warm", "py_time_cold", "speedup_warm", "speedup_cold"}
SHA_KEYS = ("git_sha", "git_commit", "commit", "sha", "git.sha", "git.commit", "git.head", "revision")
TIME_KEYS = ("timestamp", "time", "date", "created", "started", "start_time")
# A key of a benchmark record that names a measurement rather than a setting.
_OUTPUT_KEY = re.compile(r"corr|ratio|rmse|rms_|diff|peak|distance|matched|_time|^time_|speedup|seconds|"
                         r"verdict|reason|error|status|passed|exit_code|outcome|conclusion|radial|region|"
                         r"shape|problem|cached|image|probe", re.IGNORECASE)
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_FLAG = re.compile(r"^-[A-Za-z_]")
_SCENARIO_OUTPUTS = ("reason", "max_abs_diff", "rms_diff", "seconds", "cached", "via_probe")


@dataclass
class Found:
    """One run as a result file records it."""

    label: str                      # which part of the file ("" when the file is one run)
    metrics: dict[str, Any]         # correlation, sum_ratio, correlation_cold, size, as recorded
    sha: str | None = None
    recorded_verdict: str | None = None   # the verdict bisector wrote, under its own thresholds
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


def read_runs(data: Any) -> tuple[list[Found], str | None]:
    """The runs ``data`` records, or none and why it is not a result."""
    if isinstance(data, dict):
        for recognises, reader, shape in _READERS:
            if recognises(data):
                found = reader(data)
                return found, None if found else f"{shape} that records no scored scenario"
        if "correlation" in data or "sum_ratio" in data:
            return [_benchmark(data, "")], None
        return [], f"an object without correlation or sum_ratio (keys: {_keys(data)})"
    if isinstance(data, list):
        records = [r for r in data if isinstance(r, dict) and BENCH_KEYS & set(r)]
        if not records:
            return [], "a list without benchmark records (no size/correlation/timing keys)"
        return [_benchmark(r, str(i) if len(records) > 1 else "") for i, r in enumerate(records)], None
    return [], f"a JSON {type(data).__name__}, not a list of records or an object"


# -- bisector's own shapes -------------------------------------------------------------------

def _is_bundle(d: dict) -> bool:
    return {"records", "walk"} <= set(d)


def _is_score(d: dict) -> bool:
    return {"commit", "verdict", "scenarios", "tree_ids"} <= set(d)


def _is_compare(d: dict) -> bool:
    return {"candidate", "reference", "args", "correlation"} <= set(d)


def _is_nightly(d: dict) -> bool:
    return {"night", "tip", "scenarios", "outcome"} <= set(d)


def _is_timeline(d: dict) -> bool:
    return {"states", "windows"} <= set(d)


def _is_narrow(d: dict) -> bool:
    return {"commit", "parent", "hunks", "trials", "minimal"} <= set(d)


def _is_verify(d: dict) -> bool:
    return {"checks", "commit", "passed"} <= set(d)


def _bundle(d: dict) -> list[Found]:
    config = _dict(d.get("config"))
    settings = _thresholds(config.get("thresholds"))
    kind = _dict(config.get("reference")).get("kind")
    if kind:
        settings["reference.kind"] = str(kind)
    scenario_args = {str(name): _dict(s).get("args") for name, s in _dict(config.get("scenarios")).items()}
    return [f for r in _dicts(d["records"]) for f in _score_record(r, settings, scenario_args)]


def _score(d: dict) -> list[Found]:
    return _score_record(d, {}, {})


def _score_record(record: dict, settings: dict[str, str], scenario_args: dict) -> list[Found]:
    sha = _sha_of(record.get("commit"))
    phase = f" {record['phase']}" if record.get("phase") else ""
    inputs = dict(settings)
    if record.get("reference"):
        inputs["reference"] = str(record["reference"])
    found = []
    for sc in _dicts(record.get("scenarios")):
        args = scenario_args.get(str(sc.get("name", "?")))
        found.append(_scenario(sc, f"{(sha or '?')[:10]}{phase}", sha, {**inputs, **argument_params(args)}))
    if not found and record.get("error"):  # aborted before any scenario: still a run, without metrics
        found.append(Found(f"{(sha or '?')[:10]}{phase}", {}, sha, record.get("verdict"), inputs,
                           {"error": str(record["error"])}))
    return found


def _scenario(sc: dict, label: str, sha: str | None, inputs: dict[str, str]) -> Found:
    name = str(sc.get("name", "?"))
    outputs = {k: _text(sc[k]) for k in _SCENARIO_OUTPUTS if sc.get(k) is not None}
    return Found(f"{label} {name}", {"correlation": sc.get("correlation"), "sum_ratio": sc.get("sum_ratio")},
                 sha, sc.get("verdict"), {"scenario": name, **inputs}, outputs)


def _compare(d: dict) -> list[Found]:
    ref, cand = _dict(d["reference"]), _dict(d["candidate"])
    sha = _sha_of(cand.get("value")) if cand.get("kind") == "commit" else None
    inputs = {"reference.kind": _text(ref.get("kind")), "candidate.kind": _text(cand.get("kind"))}
    if ref.get("value"):
        inputs["reference.value"] = _text(ref["value"])
    if cand.get("kind") != "commit" and cand.get("value"):
        inputs["candidate.value"] = _text(cand["value"])
    inputs.update(argument_params(d.get("args")))
    inputs.update(flatten(d.get("environment") or {}))
    skip = {"reference", "candidate", "args", "environment", "radial", "correlation", "sum_ratio", "verdict"}
    outputs = flatten({k: v for k, v in d.items() if k not in skip and v is not None})
    if isinstance(d.get("radial"), list):
        outputs["radial"] = f"{len(d['radial'])} rings (see summary.md)"
    return [Found("", {"correlation": d.get("correlation"), "sum_ratio": d.get("sum_ratio")}, sha,
                  d.get("verdict"), inputs, outputs)]


def _nightly(d: dict) -> list[Found]:
    sha = _sha_of(d.get("tip"))
    inputs = {"branch": _text(d.get("branch")), **flatten(d.get("environment") or {})}
    return [_scenario(sc, f"night {d.get('night')} {(sha or '?')[:10]}", sha, inputs)
            for sc in _dicts(d.get("scenarios"))]


def _timeline(d: dict) -> list[Found]:
    settings = _thresholds(d.get("thresholds"))
    found = []
    for state in _dicts(d["states"]):
        sha = _sha_of(state.get("first"))
        label = f"state {state.get('index', '?')} {(sha or '?')[:10]}"
        found += [_scenario(sc, label, sha, settings) for sc in _dicts(state.get("scenarios"))]
    for window in _dicts(d["windows"]):
        for end in ("break", "fixed"):
            for record in _dicts(_dict(window.get(end)).get("fresh")):
                found += _score_record({**record, "phase": f"{end} re-run"}, settings, {})
    return found


def _verify(d: dict) -> list[Found]:
    sha = _sha_of(d.get("commit"))
    found = []
    for check in _dicts(d["checks"]):
        outputs = {"detail": _text(check.get("detail")), "seconds": _text(check.get("seconds"))}
        if check.get("kind") == "scenario":
            verdict, inputs = check.get("status"), {"scenario": _text(check.get("name"))}
        else:  # a pytest selector passing or failing is not a parity verdict
            verdict, inputs = None, {"pytest": _text(check.get("name"))}
            outputs["status"] = _text(check.get("status"))
        found.append(Found(f"{(sha or '?')[:10]} {check.get('kind')} {check.get('name')}", {}, sha,
                           verdict, inputs, outputs))
    return found


def _narrow(d: dict) -> list[Found]:
    parent = _sha_of(d.get("parent"))
    found = []
    for name, hunks in (("parent_record", "none"), ("commit_record", "all")):
        if isinstance(d.get(name), dict):
            found += _score_record({**d[name], "phase": name.removesuffix("_record")}, {"hunks on the parent": hunks}, {})
    trials = [("confirmation", d.get("confirmation")), ("complement", d.get("complement"))]
    trials += [(f"trial {k}", t) for k, t in enumerate(_dicts(d.get("trials")), 1)]
    for label, trial in trials:
        if not (isinstance(trial, dict) and isinstance(trial.get("record"), dict)):
            continue
        # A trial scores the parent with some of the commit's hunks applied, whatever commit
        # its record names: the parent and the hunks are its provenance.
        hunks = " ".join(str(h) for h in _list(trial.get("hunks"))) or "none"
        for f in _score_record({**trial["record"], "commit": parent}, {"hunks on the parent": hunks}, {}):
            f.label = f"{label}: hunks {hunks} on {f.label}"
            found.append(f)
    return found


_READERS = ((_is_bundle, _bundle, "a run's results.json"), (_is_score, _score, "a score record"),
            (_is_compare, _compare, "a compare summary"), (_is_nightly, _nightly, "a nightly.json"),
            (_is_timeline, _timeline, "a scan's timeline.json"), (_is_verify, _verify, "a verify.json"),
            (_is_narrow, _narrow, "a narrow.json"))


# -- benchmark records -----------------------------------------------------------------------

def _benchmark(record: dict, label: str) -> Found:
    flat = flatten(record)
    inputs = {f"record.{k}": v for k, v in flat.items()
              if not _OUTPUT_KEY.search(k) and k not in BENCH_KEYS and k not in SHA_KEYS and k not in TIME_KEYS}
    outputs = {k: v for k, v in flat.items() if _OUTPUT_KEY.search(k) and k != "verdict"}
    if "size" in flat:
        inputs["record.size"] = flat["size"]
    recorded = record.get("verdict") if isinstance(record.get("verdict"), str) else None
    return Found(label, record, sha_in(record), recorded, inputs, outputs)


# -- helpers ---------------------------------------------------------------------------------

def argument_params(args: Any) -> dict[str, str]:
    """The whole argument line as ``args`` and each flag's value as ``arg.-flag``: a difference
    shows both in full and as the very tokens that differ."""
    if isinstance(args, str):
        try:
            args = shlex.split(args)
        except ValueError:
            args = args.split()
    if not isinstance(args, list) or not args:
        return {}
    words = [str(a) for a in args]
    return {"args": shlex.join(words), **flag_values(words)}


def flag_values(words: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    flag = None
    for word in words:
        if _FLAG.match(word):
            flag = word
            params[f"arg.{flag}"] = ""
        elif flag is not None:
            params[f"arg.{flag}"] = (params[f"arg.{flag}"] + " " + word).strip()
    return params


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        out[prefix[:-1]] = " ".join(map(str, data))
    elif prefix:
        out[prefix[:-1]] = str(data)
    return out


def sha_in(data: dict) -> str | None:
    flat = flatten(data)
    for key in SHA_KEYS:
        sha = _sha_of(flat.get(key))
        if sha:
            return sha
    return None


def _sha_of(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    return text if _SHA.match(text) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict]:
    """The objects of a JSON list; nothing when the value is not a list (a damaged file)."""
    return [item for item in _list(value) if isinstance(item, dict)]


def _thresholds(data: Any) -> dict[str, str]:
    return {f"thresholds.{k}": _text(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _keys(data: dict, n: int = 5) -> str:
    keys = list(data)
    return ", ".join(map(str, keys[:n])) + (", ..." if len(keys) > n else "") if keys else "none"
