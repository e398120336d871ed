"""Inductor's check of the CPU's vector instruction sets, made once per machine, not per run.

Before it compiles its first CPU kernel, every process that uses Inductor checks which
vector instruction sets (AVX-512 VNNI, AVX-512, AVX2, ...) the CPU reports and the C++
compiler and torch can use: for each, it builds a small program against ATen's headers
(cached) and loads it in a fresh Python (not cached). On a 2-core machine that costs
1.2 s in every compiled candidate run, as much as tracing the port's graph. The answer
depends on the machine, its compiler, the Python and torch, never on the candidate, so
bisector asks once, in a process of its own, and keeps the answer in the compile cache.
When every set the CPU reports passes, each candidate whose sources use ``torch.compile``
gets ``TORCHINDUCTOR_VEC_ISA_OK=1``, Inductor's own switch that skips the check.

Why this cannot change an image: with the switch Inductor takes every set the CPU
reports as usable, and it is set only where the check found exactly that, so Inductor
picks the set it would have checked its way to and generates the same code. The switch
is part of Inductor's cache key, so compiling candidates must all get it or none: every
one gets the stored answer; a candidate that does not name ``torch.compile`` compiles
nothing, so its environment does not matter. Where the check fails or cannot run
(another torch without this check, no compiler), nothing is set and each run checks for
itself, as it would without bisector.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..files import atomic_write
from . import procs

VARIABLE = "TORCHINDUCTOR_VEC_ISA_OK"
CHECK_TIMEOUT_S = 600.0
_MARK = b"torch.compile"

# Inductor's own check, then the list it would take without checking: equal lists mean
# the switch changes nothing but the time.
_CHECK = """\
import json
from torch._inductor import config, cpu_vec_isa
checked = [str(isa) for isa in cpu_vec_isa.valid_vec_isa_list()]
cpu_vec_isa.valid_vec_isa_list.cache_clear()
config.cpp.vec_isa_ok = True
assumed = [str(isa) for isa in cpu_vec_isa.valid_vec_isa_list()]
print(json.dumps({"checked": checked, "assumed": assumed}))
"""


def compile_env(worktree: Path, env: Mapping[str, str], folder: Path, logs: Path) -> dict[str, str]:
    """The switch for a candidate whose sources are under ``worktree`` and whose environment is
    ``env``, answered from (or, the first time, into) ``folder``; empty where it does not apply.

    A switch the user set (to either value) is theirs and stays.
    """
    if VARIABLE in env or not uses_torch_compile(worktree):
        return {}
    return {VARIABLE: "1"} if passes(env, folder, logs) else {}


def uses_torch_compile(worktree: Path) -> bool:
    """Whether a Python file under ``worktree`` names ``torch.compile``."""
    for root, dirs, files in os.walk(worktree):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                with contextlib.suppress(OSError), open(os.path.join(root, name), "rb") as fh:
                    if _MARK in fh.read():
                        return True
    return False


def passes(env: Mapping[str, str], folder: Path, logs: Path) -> bool:
    """Whether every vector set the CPU reports passes Inductor's check here: the stored
    answer for this machine, or a new one (one check at a time, however many runs ask).
    No answer (an unwritable cache, a check that timed out) is False: each run checks."""
    answers = folder / "vec-isa.json"
    try:
        key = machine_key(env)
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / "vec-isa.lock"):
            known = _read(answers)
            if key not in known:
                answer = _check(env, logs)
                if answer is None:
                    return False
                known[key] = answer
                atomic_write(answers, json.dumps(known, indent=1, sort_keys=True).encode())
    except OSError:
        return False
    return known[key]


def machine_key(env: Mapping[str, str]) -> str:
    """What the answer depends on: the CPU's flags, the compiler Inductor finds, this Python."""
    cxx = env.get("CXX", "g++")
    found = shutil.which(cxx, path=env.get("PATH"))
    compiler = f"{cxx}={found}"
    if found:
        stat = os.stat(found)
        compiler += f":{stat.st_size}:{stat.st_mtime_ns}"
    parts = [_cpu_flags(), compiler, os.path.realpath(sys.executable)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features", "features")):
                    return line.strip()
    except OSError:
        pass
    return ""


def _check(env: Mapping[str, str], logs: Path) -> bool | None:
    """Inductor's check in a process of its own; None when it gave no answer in time."""
    result = procs.run([sys.executable, "-c", _CHECK], cwd=logs, log_dir=logs, label="vec-isa-check",
                       timeout_s=CHECK_TIMEOUT_S, env=env)
    if result.timed_out:
        return None
    try:
        found = json.loads((logs / "vec-isa-check.stdout").read_text().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return False
    return (result.returncode == 0 and isinstance(found, dict) and bool(found.get("checked"))
            and found["checked"] == found.get("assumed"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, bool]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, bool)} if isinstance(data, dict) else {}

