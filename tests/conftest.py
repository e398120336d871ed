"""Shared fixtures: test helpers on sys.path, the real C twin, private caches."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Test helper modules (portrepo, repostate) are imported as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def c_twin() -> Path:
    """The real C twin, compiled once (into the user's cache) by the system compiler."""
    from simkernel import cref

    return cref.binary()


@pytest.fixture
def score_env(tmp_path) -> dict[str, str]:
    """Environment for `python -m bisector score` subprocesses: a private, empty cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != "NB_C_BIN"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    return env
