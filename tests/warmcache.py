"""Private cache folders that start warm with the session's reference images.

Reference images are keyed by what made them (sha256 of the C program, a hash of
simkernel's sources) and the scenario's arguments, so an image one test made is right for
every other test. A test still gets a cache folder of its own, because scores, notices and
"cached" flags are what many tests check: the folder starts with every reference image the
session has made so far and hands its new ones back when the test (or module) is done.
Tests whose point is the cache itself (damaged, read-only, info/clear counts) use a bare
folder instead.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from bisector.store.cache import DB_NAME, Cache


@contextmanager
def warm_cache_dir(folder: Path, store: Path):
    """``folder`` as a bisector cache holding the reference images of ``store``; on leaving,
    the images made meanwhile go back to ``store``."""
    share_references(store, folder)
    yield folder
    share_references(folder, store)


@contextmanager
def warm_xdg(xdg: Path, store: Path, c_twin: Path):
    """``xdg`` as an XDG_CACHE_HOME: bisector's folder warm (as warm_cache_dir), and a copy of
    the session's C twin (``c_twin``) where simkernel looks for its build, so that nothing is
    compiled again (a copy: a test may clear its cache, twin builds included)."""
    twin = xdg / "simkernel" / c_twin.parent.name / c_twin.name
    twin.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(c_twin, twin)
    with warm_cache_dir(xdg / "bisector", store):
        yield xdg


def share_references(source: Path, target: Path) -> None:
    """Copy the reference images of cache folder ``source`` that ``target`` lacks, through
    bisector's own Cache (which checks each image's checksum on the way)."""
    target.mkdir(parents=True, exist_ok=True)
    if not (source / DB_NAME).is_file():
        return
    try:
        with closing(sqlite3.connect(source / DB_NAME, timeout=30)) as db:
            rows = [json.loads(parts) for (parts,) in db.execute("SELECT parts FROM reference_images")]
    except (sqlite3.Error, ValueError):  # a test damaged its cache on purpose: nothing to share
        return
    if not rows:
        return
    src, dst = Cache(source), Cache(target)
    try:
        for parts in rows:
            key, args = parts["reference"], tuple(parts["args"])
            if dst.get_reference(key, args) is None:
                image = src.get_reference(key, args)
                if image is not None:
                    dst.put_reference(key, args, image)
    finally:
        src.close()
        dst.close()
