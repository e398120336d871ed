"""Where bisector keeps what it writes for a user (caches, crash logs) when no configuration
says otherwise. A leaf: errors and config both need it, and it needs neither."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bisector``, else ``~/.cache/bisector``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "bisector"
