"""The environment of a benchmark's bisector run with a cold cache."""

from __future__ import annotations

import os
from pathlib import Path


def cold_cache_env(cache: Path, **extra: str) -> dict[str, str]:
    """This environment with ``cache`` as XDG_CACHE_HOME, so bisector starts with nothing
    cached, but with matplotlib's own cache where it is now: under a fresh XDG_CACHE_HOME
    matplotlib would rebuild its font list (0.3 s a process that draws a figure), a cost a
    user pays once per machine, not once per hunt."""
    import matplotlib

    return dict(os.environ, XDG_CACHE_HOME=str(cache), MPLCONFIGDIR=matplotlib.get_cachedir(), **extra)
