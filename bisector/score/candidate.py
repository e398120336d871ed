"""Run the port at one commit: export it, run its setup, run it on a scenario, read its image.

Commands come from templates that are split into arguments first (shlex) and filled in
per argument afterwards, so nothing from the commit or the scenario is ever parsed by a
shell. Processes are run by :mod:`.procs` (own session, timeout and leftovers ended); their
logs live in ``logs/``, beside the folders the candidate is given, so a candidate that
empties its $TMPDIR cannot take them with it.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

from .. import git
from ..config import Config, Scenario
from ..errors import ConfigError
from . import procs
from .compile_cache import candidate_compile_env, isa_check_env, prepare_tmpdir

@dataclass(frozen=True)
class Workspace:
    """A private export of one commit: ``worktree`` holds the files, ``tmp`` is its TMPDIR,
    ``outputs`` receives the images, ``logs`` our logs of its processes."""

    worktree: Path
    tmp: Path
    outputs: Path
    logs: Path


@dataclass(frozen=True)
class CandidateRun:
    """Outcome of one candidate run.

    status "ok": ``image`` holds the float image, shape (slow, fast) when its size was
    right, else the flat array read from the file (compare() then judges it BAD);
    status "skip": the commit could not be measured, ``reason`` says why; ``lasting`` is
    False when another try may measure it (a timeout, a failed setup, the machine's fault).
    """

    status: str
    image: np.ndarray | None
    reason: str
    seconds: float
    lasting: bool = True


def export_workspace(config: Config, rev: str, scratch: Path, *, repo: Path | None = None,
                     paths: list[str] | None = None) -> Workspace:
    """Materialise ``paths`` (default: the relevant and extra paths; "." is the whole tree) of
    ``rev`` (a commit or a tree object of ``repo``, default ``config.repo``) under ``scratch``
    (git archive)."""
    ws = Workspace(worktree=scratch / "worktree", tmp=scratch / "tmp", outputs=scratch / "out",
                   logs=scratch / "logs")
    for folder in (ws.worktree, ws.tmp, ws.outputs, ws.logs):
        folder.mkdir(parents=True, exist_ok=True)
    prepare_tmpdir(config, ws.tmp)
    if paths is None:
        paths = list(dict.fromkeys([*config.paths, *config.extra_paths]))
    git.export(repo or config.repo, rev, paths, ws.worktree)
    return ws


def expand(template: str, values: dict[str, str | list[str]]) -> list[str]:
    """Split ``template`` like a shell would, then replace {name} placeholders per argument.

    A placeholder whose value is a list (``{args}``) must stand alone as one argument and
    expands to several arguments.
    """
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"cannot split the command template {template!r}: {exc}")
    argv: list[str] = []
    for word in words:
        listed = [k for k, v in values.items() if isinstance(v, list) and "{" + k + "}" in word]
        if listed:
            if word != "{" + listed[0] + "}":
                raise ConfigError(f"{{{listed[0]}}} must be a separate word in {template!r}",
                                  hint="write it with spaces around it")
            argv.extend(values[listed[0]])
            continue
        for key, value in values.items():
            if isinstance(value, str):
                word = word.replace("{" + key + "}", value)
        argv.append(word)
    return argv


def process_env(config: Config, ws: Workspace) -> dict[str, str]:
    # procs drops GIT_* variables: a candidate's own git calls must not reach the user's repository.
    env = dict(os.environ)
    for key, value in config.env.items():
        env[key] = value.replace("{worktree}", str(ws.worktree))
    env["TMPDIR"] = str(ws.tmp)
    env.update(candidate_compile_env(config))
    env.update(isa_check_env(config, env, ws.worktree, ws.logs))
    if config.noise.seed_env:
        env[config.noise.seed_env] = str(config.noise.seed)
    return env


def run_setup(config: Config, ws: Workspace) -> str | None:
    """Run the configured setup command; None when it succeeded, else the reason to skip."""
    if not config.setup.strip():
        return None
    argv = expand(config.setup, {"python": sys.executable, "worktree": str(ws.worktree),
                                 "package": config.package or ""})
    result = procs.run(argv, cwd=ws.worktree, env=process_env(config, ws), timeout_s=config.timeout_s,
                       log_dir=ws.logs, label="setup")
    if result.timed_out:
        return f"setup timed out after {config.timeout_s:g} s"
    if result.returncode != 0:
        return f"setup failed with status {result.returncode}: {result.output_tail}"
    return None


def run_candidate(config: Config, ws: Workspace, scenario: Scenario,
                  shape: tuple[int, int]) -> CandidateRun:
    """Run the port on ``scenario`` and read its float image of ``shape`` (slow, fast)."""
    out = ws.outputs / f"{procs.safe_label(scenario.name)}.bin"
    out.unlink(missing_ok=True)
    argv = expand(config.command, {"python": sys.executable, "package": config.package or "",
                                   "args": list(scenario.args), "out": str(out),
                                   "worktree": str(ws.worktree)})
    if config.noise.seed_arg:
        argv += [config.noise.seed_arg, str(config.noise.seed)]
    result = procs.run(argv, cwd=ws.worktree, env=process_env(config, ws), timeout_s=config.timeout_s,
                       log_dir=ws.logs, label=f"run-{procs.safe_label(scenario.name)}")
    if result.timed_out:
        return CandidateRun("skip", None, f"timeout after {config.timeout_s:g}s", result.seconds, lasting=False)
    if result.returncode != 0:
        return CandidateRun("skip", None, f"exit status {result.returncode}: {result.output_tail}",
                            result.seconds)
    if not out.is_file():
        return CandidateRun("skip", None, f"no output: {out.name} was not written. {result.output_tail}".strip(),
                            result.seconds)
    import numpy as np  # only a run that produced an image pays for numpy
    from simkernel.io import read_floatfile

    try:
        image = read_floatfile(out, shape)
    except ValueError:
        # Only the size of a wrong-size image matters: compare() reports it and judges BAD.
        image = np.zeros(out.stat().st_size // 4, dtype=np.float32)
    return CandidateRun("ok", image, "", result.seconds)


def load_kept_image(path: str | Path) -> np.ndarray:
    """An image saved by ``score_commit(..., keep_images=...)`` (ScenarioResult.image)."""
    import numpy as np  # only the report's pictures load numpy here

    return np.load(path, allow_pickle=False)
