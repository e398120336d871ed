"""The resolved configuration of a bisection: read once, validated, pinned as JSON.

Sources, first found wins: ``--config FILE``, ``bisector.toml`` in the repository root,
``[tool.bisector]`` in its ``pyproject.toml``, built-in defaults. Command-line flags
(:class:`ConfigOverrides`) are applied on top. The result is a frozen :class:`Config`
that round-trips through JSON, so ``bisector run`` can pin it outside the bisected tree
and every ``bisector score --pinned FILE`` step sees exactly the same settings.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .cachedir import default_cache_dir
from .errors import ConfigError
from .score.noise import DEFAULT_MAX_REPEATS, DEFAULT_NOISE_MARGIN
from .twin import c_program

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_COMMAND = "{python} -m {package} {args} -floatfile {out}"
DEFAULT_TIMEOUT_S = 900.0
MAX_TIMEOUT_S = 7 * 24 * 3600.0  # a week; far beyond any candidate, well within what timers accept
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
DEFAULT_SCENARIO = "benchmark"
DEFAULT_SCENARIO_ARGS = ("-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 5 "
                         "-distance 100 -detpixels 4096")
DEFAULT_PROBE_MARGIN = 0.9
# The built-in benchmark's probe: the same physics on the central 1024^2 pixels (same pixel
# size, same beam centre, so its image is the middle of the full one) at ~1/16 of the work.
BUILTIN_PROBE = "benchmark_probe"
BUILTIN_PROBE_PIXELS = 1024
SIMKERNEL_NOTICE = "no C binary configured: using simkernel as the known-good baseline"
C_BIN_ENV = "NB_C_BIN"

# More runs of one state than this is a mistake of configuration, not a measurement.
MAX_REPEATS = 50

_TOP_KEYS = {"paths", "extra_paths", "package", "command", "setup", "timeout", "env",
             "reference", "thresholds", "scenarios", "scenarios_to_judge", "judge", "cache_dir",
             "compile_cache", "eager", "paranoid", "default_probe",
             "repeats", "max_repeats", "noise_margin", "seed", "seed_env", "seed_arg"}
_REFERENCE_KEYS = {"kind", "c_bin", "build", "build_commit", "binary"}
_THRESHOLD_KEYS = {"min_correlation", "max_sum_ratio_error"}
_SCENARIO_KEYS = {"args", "probe", "probe_margin"}
_C_BIN_HINT = (f"pass --c-bin PATH, set {C_BIN_ENV}, or set c_bin in "
               "[tool.bisector.reference] to an executable nanoBragg-compatible program "
               "(or to `twin`: simkernel's C twin, built on first use)")


@dataclass(frozen=True)
class Thresholds:
    """A scenario is good iff correlation >= min_correlation and |sum_ratio - 1| <= max_sum_ratio_error."""

    min_correlation: float = 0.999
    max_sum_ratio_error: float = 5e-3


@dataclass(frozen=True)
class Scenario:
    """One simulation: nanoBragg arguments (without -floatfile) and an optional cheaper probe."""

    name: str
    args: tuple[str, ...]
    probe: str | None = None
    probe_margin: float = DEFAULT_PROBE_MARGIN


@dataclass(frozen=True)
class Noise:
    """How a state is measured when the port is not deterministic (score/noise.py has the rule).

    repeats: runs every state gets at least (1: only states near a threshold are repeated);
    max_repeats: the limit on runs of one state; margin: how near a threshold (a fraction of
    the allowed distance from perfect) one run must be to be repeated; seed_env/seed_arg:
    where the candidate reads the fixed ``seed`` (an environment variable, an argument).
    """

    repeats: int = 1
    max_repeats: int = DEFAULT_MAX_REPEATS
    margin: float = DEFAULT_NOISE_MARGIN
    seed: int = 0
    seed_env: str | None = None
    seed_arg: str | None = None

    @property
    def seeded(self) -> bool:
        return bool(self.seed_env or self.seed_arg)


@dataclass(frozen=True)
class ReferenceSpec:
    """Where the known-good image comes from.

    kind "c": run ``c_bin``, or build it once with ``build`` in a worktree of
    ``build_commit`` (unset: the good commit of a run, HEAD for a lone score) and use
    ``binary`` from there; kind "simkernel": the in-process
    float64 simulator.
    """

    kind: str = "simkernel"
    c_bin: str | None = None
    build: str | None = None
    build_commit: str | None = None
    binary: str | None = None
    # Fixed by `bisector run` before bisecting: every step then reads the images made for
    # this key, even if simkernel or the C program is edited or rebuilt meanwhile.
    pinned_key: str | None = None


@dataclass(frozen=True)
class ConfigOverrides:
    """Values given on the command line; None means "not given"."""

    c_bin: str | Path | None = None
    paths: list[str] | None = None
    scenarios: list[str] | None = None
    timeout_s: float | None = None
    min_correlation: float | None = None
    max_sum_ratio_error: float | None = None
    reference_kind: str | None = None
    cache_dir: str | Path | None = None
    eager: bool | None = None
    paranoid: bool | None = None
    repeats: int | None = None


@dataclass(frozen=True)
class Config:
    repo: Path
    paths: tuple[str, ...]
    extra_paths: tuple[str, ...]
    package: str | None
    command: str
    setup: str
    env: dict[str, str]
    timeout_s: float
    reference: ReferenceSpec
    thresholds: Thresholds
    scenarios: dict[str, Scenario]
    judge: tuple[str, ...]
    cache_dir: Path
    source: str
    notices: tuple[str, ...] = field(default=())
    # Speed settings (docs/ARCHITECTURE.md says why each is safe): shared torch.compile
    # caches for candidates; TORCH_COMPILE_DISABLE=1 for candidates; two fresh runs per
    # side of the culprit instead of reusing this hunt's fresh results.
    compile_cache: bool = True
    eager: bool = False
    paranoid: bool = False
    noise: Noise = field(default_factory=Noise)

    def to_json(self) -> str:
        data = asdict(self)
        data["repo"] = str(self.repo)
        data["cache_dir"] = str(self.cache_dir)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        try:
            data = json.loads(text)
            scenarios = {name: Scenario(name=s["name"], args=tuple(s["args"]), probe=s["probe"],
                                        probe_margin=float(s["probe_margin"]))
                         for name, s in data["scenarios"].items()}
            return cls(
                repo=Path(data["repo"]), paths=tuple(data["paths"]),
                extra_paths=tuple(data["extra_paths"]), package=data["package"],
                command=data["command"], setup=data["setup"], env=dict(data["env"]),
                timeout_s=float(data["timeout_s"]), reference=ReferenceSpec(**data["reference"]),
                thresholds=Thresholds(**data["thresholds"]), scenarios=scenarios,
                judge=tuple(data["judge"]), cache_dir=Path(data["cache_dir"]),
                source=data["source"], notices=tuple(data.get("notices", ())),
                compile_cache=bool(data.get("compile_cache", True)), eager=bool(data.get("eager", False)),
                paranoid=bool(data.get("paranoid", False)), noise=Noise(**data.get("noise", {})))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"pinned configuration is not valid: {exc}",
                              hint="re-create it with `bisector run` (pinned files are not meant to be edited)")


def load_config(repo: Path, config_file: Path | None = None,
                overrides: ConfigOverrides | None = None) -> Config:
    """Read, merge and validate the configuration of the port in ``repo``.

    Raises ConfigError naming the offending file, key and the allowed values.
    """
    repo = Path(repo).resolve()
    overrides = overrides or ConfigOverrides()
    table, source, base_dir = _read_table(repo, config_file)
    _check_keys(table, _TOP_KEYS, "[tool.bisector]", source)

    paths = _inside_repo(_string_list(table, "paths", source), f"paths in {source}")
    if overrides.paths:
        paths = _inside_repo(list(overrides.paths), "--paths")
    if not paths:
        if not (repo / "src").is_dir():
            raise ConfigError(f"no relevant paths configured and {repo / 'src'} does not exist",
                              hint='set paths = ["your/package/dir"] in [tool.bisector]')
        paths = ["src"]
    extra_paths = _inside_repo(_string_list(table, "extra_paths", source), f"extra_paths in {source}") or []

    command = _string(table, "command", source) or DEFAULT_COMMAND
    package = _string(table, "package", source)
    if package is None and "{package}" in command:
        package = _find_package(repo)
    setup = _string(table, "setup", source) or ""
    for key, template in (("command", command), ("setup", setup)):
        _split(template, key, source)
    timeout_s = _timeout(table.get("timeout", DEFAULT_TIMEOUT_S), "timeout", source)
    if overrides.timeout_s is not None:
        timeout_s = _timeout(overrides.timeout_s, "--timeout", "the command line")

    env = {"PYTHONPATH": "{worktree}/src"}
    env.update(_string_table(table, "env", source))

    thresholds = _thresholds(table.get("thresholds", {}), overrides, source)
    scenarios = _scenarios(table.get("scenarios"), source)
    if _flag(table, "default_probe", True, source):
        scenarios = _with_builtin_probe(scenarios)
    judge = _judge(table, scenarios, overrides, source)
    notices: list[str] = []
    reference = _reference(table.get("reference", {}), overrides, base_dir, source, notices)

    cache_dir = overrides.cache_dir or table.get("cache_dir")
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise ConfigError(f"cache_dir in {source} must be a path string, not {cache_dir!r}")
    cache_dir = _absolute(Path(cache_dir).expanduser(), base_dir) if cache_dir else default_cache_dir()

    eager = _flag(table, "eager", False, source) if overrides.eager is None else overrides.eager
    paranoid = _flag(table, "paranoid", False, source) if overrides.paranoid is None else overrides.paranoid
    return Config(repo=repo, paths=tuple(paths), extra_paths=tuple(extra_paths), package=package,
                  command=command, setup=setup, env=env, timeout_s=timeout_s,
                  reference=reference, thresholds=thresholds, scenarios=scenarios,
                  judge=judge, cache_dir=cache_dir, source=source, notices=tuple(notices),
                  compile_cache=_flag(table, "compile_cache", True, source), eager=eager,
                  paranoid=paranoid, noise=_noise(table, overrides, source))


def with_overrides(config: Config, overrides: ConfigOverrides) -> Config:
    """Apply judging overrides (scenarios, thresholds, timeout, eager, paranoid, repeats) to an
    already resolved config (a hunt's pinned configuration, judged again by `narrow`): an
    option the command accepts must never be dropped silently."""
    thresholds = _thresholds(asdict(config.thresholds), overrides, "the pinned configuration")
    judge = config.judge
    if overrides.scenarios:
        judge = _judge({}, config.scenarios, overrides, "the pinned configuration")
    timeout_s = config.timeout_s
    if overrides.timeout_s is not None:
        timeout_s = _timeout(overrides.timeout_s, "--timeout", "the command line")
    repeats = _repeats(overrides, config.noise.repeats)
    noise = replace(config.noise, repeats=repeats, max_repeats=max(repeats, config.noise.max_repeats))
    return replace(config, thresholds=thresholds, judge=judge, timeout_s=timeout_s, noise=noise,
                   eager=config.eager if overrides.eager is None else overrides.eager,
                   paranoid=config.paranoid if overrides.paranoid is None else overrides.paranoid)


# --- reading -------------------------------------------------------------------------

def _read_table(repo: Path, config_file: Path | None) -> tuple[dict[str, Any], str, Path]:
    if config_file is not None:
        path = Path(config_file).resolve()  # as typed: the shell expanded what it meant to
        if not path.is_file():
            raise ConfigError(f"configuration file {path} does not exist",
                              hint="check the path given to --config")
        return _table_of(_parse_toml(path), path), str(path), path.parent
    candidate = repo / "bisector.toml"
    if candidate.is_file():
        return _table_of(_parse_toml(candidate), candidate), str(candidate), repo
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        data = _parse_toml(pyproject)
        table = data.get("tool", {}).get("bisector")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"[tool.bisector] in {pyproject} must be a table")
            return table, f"{pyproject} [tool.bisector]", repo
    return {}, "defaults", repo


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the syntax at that line")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}")


def _table_of(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A config file may hold the keys at top level or under [tool.bisector]."""
    if "tool" in data:
        table = data["tool"].get("bisector") if isinstance(data["tool"], dict) else None
        if not isinstance(table, dict):
            raise ConfigError(f"{path} has a [tool] table without [tool.bisector]",
                              hint="put the settings at top level or under [tool.bisector]")
        return table
    return data


# --- validation helpers ---------------------------------------------------------------

def _check_keys(table: dict[str, Any], allowed: set[str], where: str, source: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where} of {source}",
                              hint=f"allowed keys: {', '.join(sorted(allowed))}")


def _string(table: dict[str, Any], key: str, source: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key} in {source} must be a string, not {value!r}")
    return value


def _string_list(table: dict[str, Any], key: str, source: str) -> list[str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key} in {source} must be a list of non-empty strings, not {value!r}",
                          hint=f'for example {key} = ["src"]')
    return value


def _inside_repo(paths: list[str] | None, where: str) -> list[str] | None:
    """Relevant paths name parts of the repository's tree: relative, and never above its root."""
    for path in paths or ():
        if os.path.isabs(path) or os.path.normpath(path).split(os.sep)[0] == "..":
            raise ConfigError(f"{where}: {path!r} is outside the repository",
                              hint="give paths relative to the repository's root, for example src")
    return paths


def _string_table(table: dict[str, Any], key: str, source: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"[tool.bisector.{key}] in {source} must map names to strings",
                          hint='for example PYTHONPATH = "{worktree}/src"')
    return dict(value)


def _flag(table: dict[str, Any], key: str, default: bool, source: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} in {source} must be true or false, not {value!r}")
    return value


def _timeout(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_S:
        raise ConfigError(f"{key} in {source} must be a number of seconds > 0 and at most "
                          f"{MAX_TIMEOUT_S:.0f} (a week), not {value!r}")
    return float(value)


def _split(text: str, what: str, source: str) -> list[str]:
    """``text`` split into arguments as a shell would; ConfigError naming ``what`` when it cannot be."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{what} in {source} cannot be split into arguments ({exc}): {text!r}",
                          hint="balance the quotes, or write the arguments as a TOML list") from None


def _scenario_name(name: str, source: str) -> str:
    # The name becomes part of file names in scratch and report folders.
    if not _SAFE_NAME.fullmatch(name):
        raise ConfigError(f"scenario name {name!r} in {source} is not allowed",
                          hint="use letters, digits, '_', '-' and '.', starting with a letter or digit")
    return name


def _noise(table: dict[str, Any], overrides: ConfigOverrides, source: str) -> Noise:
    repeats = _repeats(overrides, _count(table.get("repeats", 1), "repeats", source))
    max_repeats = max(repeats, _count(table.get("max_repeats", DEFAULT_MAX_REPEATS), "max_repeats", source))
    margin = table.get("noise_margin", DEFAULT_NOISE_MARGIN)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin <= 1:
        raise ConfigError(f"noise_margin in {source} must be a number in [0, 1] (a fraction of the "
                          f"allowed distance from perfect), not {margin!r}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed in {source} must be an integer, not {seed!r}")
    return Noise(repeats=repeats, max_repeats=max_repeats, margin=float(margin), seed=seed,
                 seed_env=_string(table, "seed_env", source) or None,
                 seed_arg=_string(table, "seed_arg", source) or None)


def _repeats(overrides: ConfigOverrides, configured: int) -> int:
    """--repeats when given (validated), else the configured count."""
    return configured if overrides.repeats is None else _count(overrides.repeats, "--repeats", "the command line")


def _count(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPEATS:
        raise ConfigError(f"{key} in {source} must be a whole number of runs from 1 to {MAX_REPEATS}, "
                          f"not {value!r}")
    return value


def _fraction(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{key} in {source} must be a number in (0, 1], not {value!r}")
    return float(value)


def _thresholds(table: Any, overrides: ConfigOverrides, source: str) -> Thresholds:
    if not isinstance(table, dict):
        raise ConfigError(f"thresholds in {source} must be a table")
    _check_keys(table, _THRESHOLD_KEYS, "[tool.bisector.thresholds]", source)
    defaults = Thresholds()
    min_corr = table.get("min_correlation", defaults.min_correlation)
    max_err = table.get("max_sum_ratio_error", defaults.max_sum_ratio_error)
    if overrides.min_correlation is not None:
        min_corr, source_corr = overrides.min_correlation, "the command line"
    else:
        source_corr = source
    if overrides.max_sum_ratio_error is not None:
        max_err, source_err = overrides.max_sum_ratio_error, "the command line"
    else:
        source_err = source
    return Thresholds(min_correlation=_fraction(min_corr, "min_correlation", source_corr),
                      max_sum_ratio_error=_fraction(max_err, "max_sum_ratio_error", source_err))


def _scenarios(table: Any, source: str) -> dict[str, Scenario]:
    if table is None:
        return {DEFAULT_SCENARIO: Scenario(DEFAULT_SCENARIO, tuple(shlex.split(DEFAULT_SCENARIO_ARGS)))}
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"[tool.bisector.scenarios] in {source} must hold at least one scenario",
                          hint='e.g. [tool.bisector.scenarios.benchmark] args = "-default_F 100 ..."')
    scenarios = {}
    for name, spec in table.items():
        _scenario_name(name, source)
        where = f"[tool.bisector.scenarios.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} in {source} must be a table with an args key")
        _check_keys(spec, _SCENARIO_KEYS, where, source)
        args = spec.get("args")
        if isinstance(args, str):
            args = _split(args, f"args of {where}", source)
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"args of {where} in {source} must be a non-empty string or list of strings")
        if "-floatfile" in args:
            raise ConfigError(f"args of {where} in {source} must not contain -floatfile",
                              hint="bisector chooses the output file itself")
        probe = spec.get("probe")
        if probe is not None and (not isinstance(probe, str) or probe == name):
            raise ConfigError(f"probe of {where} in {source} must name another scenario, not {probe!r}")
        margin = _fraction(spec.get("probe_margin", DEFAULT_PROBE_MARGIN), f"probe_margin of {where}", source)
        scenarios[name] = Scenario(name=name, args=tuple(args), probe=probe, probe_margin=margin)
    for scenario in scenarios.values():
        if scenario.probe is not None and scenario.probe not in scenarios:
            raise ConfigError(f"scenario {scenario.name!r} in {source} names a missing probe {scenario.probe!r}",
                              hint=f"defined scenarios: {', '.join(sorted(scenarios))}")
    return scenarios


def _with_builtin_probe(scenarios: dict[str, Scenario]) -> dict[str, Scenario]:
    """Give the built-in benchmark (any detector size above the probe's) its built-in probe.

    Only a scenario named ``benchmark`` without a probe of its own, whose arguments are the
    built-in benchmark's except for the -detpixels value, gets one: for it, the probe's
    image is exactly the middle of the full image, so a clearly wrong probe means a clearly
    wrong full image.
    """
    bench = scenarios.get(DEFAULT_SCENARIO)
    if bench is None or bench.probe is not None or BUILTIN_PROBE in scenarios:
        return scenarios
    builtin = shlex.split(DEFAULT_SCENARIO_ARGS)
    at = builtin.index("-detpixels") + 1
    args = list(bench.args)
    if len(args) != len(builtin) or args[:at] + args[at + 1:] != builtin[:at] + builtin[at + 1:]:
        return scenarios
    if not args[at].isdigit() or int(args[at]) <= BUILTIN_PROBE_PIXELS:
        return scenarios
    args[at] = str(BUILTIN_PROBE_PIXELS)
    return {**scenarios, DEFAULT_SCENARIO: replace(bench, probe=BUILTIN_PROBE),
            BUILTIN_PROBE: Scenario(BUILTIN_PROBE, tuple(args))}


def _judge(table: dict[str, Any], scenarios: dict[str, Scenario], overrides: ConfigOverrides,
           source: str) -> tuple[str, ...]:
    if "judge" in table and "scenarios_to_judge" in table:
        raise ConfigError(f"{source} sets both judge and scenarios_to_judge", hint="keep one of them")
    key = "judge" if "judge" in table else "scenarios_to_judge"
    names = list(overrides.scenarios or []) or _string_list(table, key, source)
    where = "--scenario" if overrides.scenarios else f"{key} in {source}"
    if not names:
        probes = {s.probe for s in scenarios.values() if s.probe}
        names = [n for n in scenarios if n not in probes]
    for name in names:
        if name not in scenarios:
            raise ConfigError(f"unknown scenario {name!r} in {where}",
                              hint=f"defined scenarios: {', '.join(sorted(scenarios))}")
    return tuple(dict.fromkeys(names))


def _reference(table: Any, overrides: ConfigOverrides, base_dir: Path, source: str,
               notices: list[str]) -> ReferenceSpec:
    if not isinstance(table, dict):
        raise ConfigError(f"reference in {source} must be a table")
    _check_keys(table, _REFERENCE_KEYS, "[tool.bisector.reference]", source)
    for key in _REFERENCE_KEYS:
        _string(table, key, source)
    kind = overrides.reference_kind or table.get("kind")
    if kind not in (None, "c", "simkernel"):
        raise ConfigError(f"reference kind {kind!r} in {source} is not allowed",
                          hint='use kind = "c" or kind = "simkernel"')
    if overrides.c_bin:
        return ReferenceSpec(kind="c", c_bin=_executable(c_program(str(overrides.c_bin)), Path.cwd(), "--c-bin"))
    if kind == "simkernel":
        return ReferenceSpec(kind="simkernel")
    env_bin = os.environ.get(C_BIN_ENV)
    if env_bin:
        return ReferenceSpec(kind="c", c_bin=_executable(c_program(env_bin), Path.cwd(), C_BIN_ENV))
    if table.get("c_bin"):
        return ReferenceSpec(kind="c", c_bin=_executable(c_program(table["c_bin"]), base_dir, f"c_bin in {source}"))
    if table.get("build"):
        _split(table["build"], "build of [tool.bisector.reference]", source)
        return ReferenceSpec(kind="c", build=table["build"],
                             build_commit=table.get("build_commit"),
                             binary=table.get("binary") or "nanoBragg")
    if kind == "c":
        raise ConfigError(f'reference kind "c" in {source} needs a C program', hint=_C_BIN_HINT)
    notices.append(SIMKERNEL_NOTICE)
    return ReferenceSpec(kind="simkernel")


def _executable(value: str, base_dir: Path, where: str) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute() and os.sep not in value and not (base_dir / path).exists():
        found = shutil.which(value)
        if found:
            return str(Path(found).resolve())
    path = _absolute(path, base_dir)
    if not path.is_file() or not os.access(path, os.X_OK):
        problem = "does not exist" if not path.exists() else "is not an executable file"
        raise ConfigError(f"C reference {path} (from {where}) {problem}", hint=_C_BIN_HINT)
    return str(path)


def _absolute(path: Path, base_dir: Path) -> Path:
    return path if path.is_absolute() else (base_dir / path).resolve()


def _find_package(repo: Path) -> str:
    found = sorted(p.parent.name for p in (repo / "src").glob("*/__main__.py"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"no package with a __main__.py under {repo / 'src'}",
                          hint='set package = "yourpackage" (or command = "...") in [tool.bisector]')
    raise ConfigError(f"several packages with a __main__.py under {repo / 'src'}: {', '.join(found)}",
                      hint='choose one with package = "name" in [tool.bisector]')
