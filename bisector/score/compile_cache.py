"""How candidate runs compile: into compiler caches shared by every run, or not at all.

Every candidate run gets a private TMPDIR, and PyTorch keeps its compiler caches under the
temp folder by default, so without this module every run of a ``torch.compile`` port
compiles from scratch (33 s instead of 12 s per run on a real port). Pointing
``TORCHINDUCTOR_CACHE_DIR`` and ``TRITON_CACHE_DIR`` at one folder per torch version under
bisector's cache lets a run reuse what an earlier run of the same code compiled.

Why sharing cannot change a verdict: these caches are content-addressed. Inductor's entries
are keyed by a hash of the traced graph, the input shapes, dtypes and strides, the compiler
configuration, the torch version and the generated source; Triton's by a hash of the kernel
source and its compile options. A different commit that traces to a different graph gets a
different key and compiles afresh; only an identical computation reuses an entry. The folder
is also keyed by the torch version of the candidate environment, so an upgrade never even
looks at older entries. Entries are written to a temporary name and renamed into place, so
two runs compiling at once never read half an entry.

Inductor keeps one more content-addressed artifact outside ``TORCHINDUCTOR_CACHE_DIR``: its
precompiled C++ headers, under ``$TMPDIR/torchinductor_<user>/precompiled_headers`` whatever
that variable says. A fresh TMPDIR per run meant rebuilding them with g++ in every candidate:
a warm compiled run cost as much as a cold one (measured: ~55-65 s against ~19 s with them
shared, the eager run 15 s, on a loaded 2-core machine). No variable moves them, so each
candidate's private TMPDIR gets ``torchinductor_<user>`` as a link into the shared folder
(:func:`prepare_tmpdir`): the TMPDIR stays private, only that folder is shared. Safe for the
same reason: a header's file name is a hash of the compile command, the preprocessed header
text and the compiler's version, so a different compiler or flag builds another file.

Inductor also checks, in every process, which vector instruction sets the CPU can use (1.2 s
of each warm compiled run); :mod:`vec_isa` makes that check once per machine and keeps the
answer here, beside the caches it belongs with.

``eager``: ``TORCH_COMPILE_DISABLE=1`` (PyTorch's own switch) turns ``torch.compile`` into a
no-op in any port. Runs are then as fast as eager code, but a regression that lives only
in the compiled code (an Inductor bug, a fused-kernel precision change) goes unseen, so it
is off by default.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..config import Config
from . import vec_isa
from .installed import version_of

CACHE_VARIABLES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")
DISABLE_VARIABLE = "TORCH_COMPILE_DISABLE"


def candidate_compile_env(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables to add to a candidate's environment.

    A variable the user set (in their environment or in ``[tool.bisector.env]``) is left
    alone: their choice of cache folder, or of disabling compilation, wins.
    """
    environ = os.environ if environ is None else environ
    user_set = set(environ) | set(config.env)
    env: dict[str, str] = {}
    if config.compile_cache:
        folder = cache_root(config)
        for name, sub in zip(CACHE_VARIABLES, ("inductor", "triton")):
            if name not in user_set:
                env[name] = str(folder / sub)
    if config.eager and DISABLE_VARIABLE not in user_set:
        env[DISABLE_VARIABLE] = "1"
    return env


def isa_check_env(config: Config, env: Mapping[str, str], worktree: Path, logs: Path) -> dict[str, str]:
    """Inductor's switch that skips its per-process check of the CPU's vector sets, for a
    candidate with environment ``env`` that compiles (see :mod:`vec_isa`): the answer is kept
    in the shared compile cache, so without it (or with compiling disabled) nothing is set."""
    if not config.compile_cache or env.get(DISABLE_VARIABLE) == "1":
        return {}
    return vec_isa.compile_env(worktree, env, cache_root(config), logs)


def prepare_tmpdir(config: Config, tmp: Path) -> None:
    """Link the folder Inductor derives from TMPDIR (and no variable moves) into the shared
    cache, so a candidate's private TMPDIR reuses the precompiled headers of earlier runs."""
    if not config.compile_cache:
        return
    shared = cache_root(config) / "inductor-tmpdir"
    try:
        shared.mkdir(parents=True, exist_ok=True)
        (tmp / f"torchinductor_{_inductor_user()}").symlink_to(shared, target_is_directory=True)
    except OSError:
        pass  # an unshared folder only costs speed: the run makes its own


def _inductor_user() -> str:
    """The user name Inductor puts in its folder's name (the same rule as torch's)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid_{os.getuid()}"
    return re.sub(r'[\\/:*?"<>|]', "_", user)


def cache_root(config: Config) -> Path:
    """The shared compile-cache folder of the candidate environment's torch version."""
    return Path(config.cache_dir) / "compile" / f"torch-{_safe(torch_version())}"


def torch_version() -> str:
    """The torch version candidates run with ("none" without torch)."""
    return version_of("torch") or "none"


def entry_count(config: Config) -> int:
    """Files in the shared compile cache: a run that adds some has compiled something."""
    root = cache_root(config)
    count = 0
    for _, _, files in os.walk(root):
        count += len(files)
    return count


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)
