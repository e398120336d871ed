"""The `bisector score` command that re-judges one commit exactly as a run judged it.

Printed after `run` and `demo` and written to the report's commands.txt, so it must work
when pasted: it names the reference explicitly (a later NB_C_BIN must not change it), and
every setting the run took from the command line rather than from the configuration file.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config, Thresholds, load_config
from ..errors import ConfigError
from ..invocation import program


def reproduce_argv(repo: Path, commit: str | None, config: Config) -> list[str]:
    if not commit:
        return []
    # --full: judged as the report's numbers were, fresh and on every full scenario (no probe)
    return [*program(), "score", commit, "--repo", str(repo), "--no-cache", "--full", *judge_argv(repo, config)]


def judge_argv(repo: Path, config: Config) -> list[str]:
    """The options that make score, run and scan judge as ``config`` does (every printed
    command carries them): the configuration file, scenarios, reference and thresholds."""
    argv: list[str] = []
    config_file = _explicit_config_file(repo, config)
    if config_file:
        argv += ["--config", config_file]
    for name in config.judge:
        argv += ["-s", name]
    if config.reference.kind == "simkernel":
        argv += ["--reference", "simkernel"]
    elif config.reference.c_bin:
        argv += ["--c-bin", str(config.reference.c_bin)]
    base = _from_file(repo, config_file)
    if base is None or base.paths != config.paths:
        for path in config.paths:
            argv += ["--paths", path]
    if base is None or base.timeout_s != config.timeout_s:
        argv += ["--timeout", f"{config.timeout_s:g}"]
    thresholds = base.thresholds if base is not None else Thresholds()
    if thresholds.min_correlation != config.thresholds.min_correlation:
        argv += ["--min-correlation", repr(config.thresholds.min_correlation)]
    if thresholds.max_sum_ratio_error != config.thresholds.max_sum_ratio_error:
        argv += ["--max-sum-ratio-error", repr(config.thresholds.max_sum_ratio_error)]
    return argv


def _explicit_config_file(repo: Path, config: Config) -> str | None:
    """The --config file the run was given (found again by score without it otherwise)."""
    source = Path(config.source)
    if not source.is_file() or source.resolve() == (Path(repo) / "bisector.toml").resolve():
        return None
    return str(source)


def _from_file(repo: Path, config_file: str | None) -> Config | None:
    """What score would read without flags, to add only the flags that change it."""
    try:
        return load_config(repo, Path(config_file) if config_file else None)
    except ConfigError:
        return None
