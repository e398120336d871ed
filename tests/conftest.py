"""Shared fixtures: test helpers on sys.path, the real C twin, warm private caches, the CLI in-process."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

# Test helper modules (portrepo, repostate) are imported as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The suite starts hundreds of Python processes (bisector commands, hunt steps, workers,
# ports). Where the shell sets PYTHONDONTWRITEBYTECODE, each would compile bisector again and
# each pytest worker would rewrite every test module again; bytecode is written once instead,
# as on a machine without that variable. (It changes no behaviour under test.)
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
# bisector's own processes import numpy to handle images of a few hundred pixels (the
# generated ports do not); OpenBLAS would start a thread per core in each on import (0.24
# against 0.14 CPU-s per import). The tests run no linear algebra that threads would change.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Every process a test starts imports bisector from this checkout, also a module added since
# the (file by file, strict editable) install.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                         os.environ.get("PYTHONPATH")]))
# A suite started in the background of a non-interactive shell (`pytest &`) inherits SIGINT
# ignored, and every process it starts would too: the Ctrl-C tests would then wait for an
# interrupt that never arrives. Restoring Python's handler lets the children start with the
# default disposition, as under a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from warmcache import warm_cache_dir, warm_xdg  # noqa: E402


def pytest_collection_finish(session):
    """Every object made so far (torch, matplotlib, dask and the test modules, imported by the
    collection) goes to the collector's permanent generation: a full collection during the run
    then walks only what the tests make. Measured with perf on a whole run: garbage collection
    was 13% of the workers' CPU. Nothing in the suite relies on collecting those objects."""
    gc.freeze()


def pytest_collection_modifyitems(items):
    """Modules that wait on the clock first, then those with the most end-to-end (``slow``)
    tests, the rest in their order.

    Each module runs on one worker (``--dist loadfile``), one after the other in this order:
    a module that mostly waits then waits while the others compute, the longest modules
    start at once and the short ones fill the cores at the end, instead of a long module
    finishing alone while the other cores idle."""
    def module(item) -> str:
        return item.nodeid.split("::", 1)[0]

    waits = {module(item) for item in items if item.get_closest_marker("waits")}
    slow = Counter(module(item) for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: (module(item) not in waits, -slow[module(item)]))  # stable: modules stay whole


@pytest.fixture(scope="session", autouse=True)
def _no_outside_git_or_c_program():
    """The machine's GIT_DIR & co. (pytest started from a hook) and NB_C_BIN must not reach a test."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("GIT_") or k == "NB_C_BIN"}
    for name in saved:
        del os.environ[name]
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def c_twin() -> Path:
    """The real C twin, compiled once (into the user's cache) by the system compiler."""
    from simkernel import cref

    return cref.binary()


# --- warm caches (see warmcache.py) ------------------------------------------------------------

@pytest.fixture(scope="session")
def warm_references(tmp_path_factory) -> Path:
    """The session's store of reference images (a bisector cache folder holding no scores)."""
    return tmp_path_factory.mktemp("warm-references")


@pytest.fixture
def bisector_cache(tmp_path, warm_references) -> Path:
    """A private bisector cache folder for this test, warm with the session's reference images."""
    with warm_cache_dir(tmp_path / "bisector-cache", warm_references) as folder:
        yield folder


@pytest.fixture
def xdg_cache(tmp_path, warm_references, c_twin, monkeypatch) -> Path:
    """XDG_CACHE_HOME for this test and every process it starts (see warmcache.warm_xdg)."""
    with warm_xdg(tmp_path / "xdg-cache", warm_references, c_twin) as xdg:
        monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
        yield xdg


# --- the command line in-process ---------------------------------------------------------------

@dataclass
class CliResult:
    """What `bisector ARGS` printed and returned, as a finished process would show it."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def bisector_cli(capfd, monkeypatch):
    """Run `bisector ARGS` through ``bisector.cli.main`` in this process (no interpreter start):
    ``bisector_cli(*args, cwd=..., env={...})``. File-descriptor capture, so the output of
    programs bisector starts is included, as it is in a real process's streams."""
    from bisector.cli import main

    def call(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
        with monkeypatch.context() as patch:
            if cwd is not None:
                patch.chdir(cwd)
            patch.setenv("COLUMNS", "200")
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            capfd.readouterr()
            code = main([str(a) for a in args])
            out, err = capfd.readouterr()
        return CliResult(code, out, err)

    return call


@pytest.fixture
def score_env(xdg_cache) -> dict[str, str]:
    """Environment for real `bisector score` processes (git bisect run): the test's warm cache."""
    return dict(os.environ)
