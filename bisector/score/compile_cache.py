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

``eager``: ``TORCH_COMPILE_DISABLE=1`` (PyTorch's own switch) turns ``torch.compile`` into a
no-op in any port. Runs are then as fast as eager code, but a regression that lives only
in the compiled code (an Inductor bug, a fused-kernel precision change) goes unseen, so it
is off by default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..config import Config

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


def cache_root(config: Config) -> Path:
    """The shared compile-cache folder of the candidate environment's torch version."""
    return Path(config.cache_dir) / "compile" / f"torch-{_safe(torch_version())}"


def torch_version() -> str:
    """The torch version candidates run with (they run with this interpreter), from metadata:
    importing torch here would cost seconds per step."""
    try:
        return version("torch")
    except PackageNotFoundError:
        return "none"


def entry_count(config: Config) -> int:
    """Files in the shared compile cache: a run that adds some has compiled something."""
    root = cache_root(config)
    count = 0
    for _, _, files in os.walk(root):
        count += len(files)
    return count


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)
