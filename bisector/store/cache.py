"""A per-user cache of reference images and candidate metrics (SQLite + .npy files).

Layout under ``cache_dir`` (default ``~/.cache/bisector``, or ``$XDG_CACHE_HOME/bisector``):
``cache.sqlite3`` (WAL mode, so concurrent runs do not block each other for long),
``images/<sha256>.npy`` (reference images, float32 whenever that is exact), ``bin/<key>/``
(C programs built from source), ``demo/`` (the last `bisector demo` port) and crash logs. Scores store
*metrics*, never verdicts, so a changed threshold re-judges without re-running the
candidate. Anything that cannot be read back exactly (a missing or damaged .npy, a row with
bad JSON, a database that is not a database) is treated as a miss and recomputed, never
trusted. A cache that cannot be used (a read-only folder or database, a path that is a
file) is no failure: :attr:`Cache.notice` says why, and the cache reads what it can and
stores nothing. numpy is imported on use: a scoring answered from the cache never loads it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import atomic_write
from .wal import use_wal

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

DB_NAME = "cache.sqlite3"
# Everything of ours in the cache folder, which may be shared with other files: only
# these names are ever removed by `bisector cache clear`.
_FOLDERS = ("images", "bin", "compile", "demo")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_images (
    key TEXT PRIMARY KEY, parts TEXT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, parts TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL);
"""
_BUSY_TIMEOUT_MS = 30_000
# PRAGMA user_version of the layout above; a cache written by a newer bisector is left alone.
SCHEMA_VERSION = 1


class _NewerSchema(Exception):
    """The database was laid out by a newer bisector: neither read nor written."""


def _check_schema(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _NewerSchema(f"{DB_NAME} has schema version {version}, newer than this bisector's "
                           f"{SCHEMA_VERSION}; upgrade bisector or use another cache_dir")
    return version


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")  # one process creates, the others wait and find it made
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def digest(parts: Any) -> str:
    """A stable key for JSON-serialisable ``parts`` (dict order does not matter)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Cache:
    """Reference images keyed by (reference key, scenario args); scores by an opaque key dict.

    Never raises for an unusable cache: ``notice`` then says why it is read-only or off.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.images = self.directory / "images"
        self.db_path = self.directory / DB_NAME
        self.notice: str | None = None
        self._writable = True
        self._conn = self._open()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    # --- reference images -----------------------------------------------------------

    def get_reference(self, reference_key: str, args: tuple[str, ...]) -> np.ndarray | None:
        parts = {"reference": reference_key, "args": list(args)}
        row = self._fetch("SELECT file, sha256 FROM reference_images WHERE key = ?", digest(parts))
        if row is None:
            return None
        image = self._read_image(self.images / row[0], row[1])
        if image is None:
            self._delete("reference_images", digest(parts))
        return image

    def put_reference(self, reference_key: str, args: tuple[str, ...], image: np.ndarray) -> None:
        if not self._writable:
            return
        parts = {"reference": reference_key, "args": list(args)}
        buf = io.BytesIO()
        import numpy as np

        np.save(buf, np.ascontiguousarray(_narrowed(image)), allow_pickle=False)
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        name = f"{sha}.npy"
        try:
            atomic_write(self.images / name, data)
        except OSError as exc:
            self._degrade(f"cannot store images in {self.images} ({exc})")
            return
        self._execute("INSERT OR REPLACE INTO reference_images VALUES (?, ?, ?, ?, ?)",
                      (digest(parts), json.dumps(parts), name, sha, time.time()))

    # --- scores ----------------------------------------------------------------------

    def get_score(self, parts: dict[str, Any]) -> dict[str, Any] | None:
        key = digest(parts)
        row = self._fetch("SELECT payload FROM scores WHERE key = ?", key)
        if row is None:
            return None
        try:
            payload = json.loads(row[0])
            if not isinstance(payload, dict):
                raise ValueError("payload is not an object")
        except (ValueError, TypeError):
            self._delete("scores", key)
            return None
        return payload

    def put_score(self, parts: dict[str, Any], payload: dict[str, Any]) -> None:
        self._execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                      (digest(parts), json.dumps(parts, sort_keys=True), json.dumps(payload), time.time()))

    def delete_score(self, parts: dict[str, Any]) -> None:
        self._delete("scores", digest(parts))

    # --- housekeeping ------------------------------------------------------------------

    def entries(self) -> dict[str, tuple[int, float | None]]:
        """(count, oldest creation time) per table."""
        found = {}
        for table in ("reference_images", "scores"):
            row = self._query(f"SELECT count(*), min(created) FROM {table}")
            found[table] = (row[0], row[1]) if row else (0, None)
        return found

    def forget_older_than(self, cutoff: float) -> int:
        """Delete entries created before ``cutoff``; how many were deleted."""
        removed = 0
        for table in ("reference_images", "scores"):
            row = self._query(f"SELECT count(*) FROM {table} WHERE created < ?", (cutoff,))
            self._execute(f"DELETE FROM {table} WHERE created < ?", (cutoff,))
            removed += row[0] if row else 0
        return removed

    def image_files_in_use(self) -> set[str]:
        if self._conn is None:
            return set()
        return {row[0] for row in self._conn.execute("SELECT file FROM reference_images")}

    # --- internals -------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        try:
            self.images.mkdir(parents=True, exist_ok=True)
            conn = self._open_writable()
        except _NewerSchema as exc:
            self._degrade(f"cache {self.directory} cannot be used ({exc})")
            return None
        except (OSError, sqlite3.Error) as exc:
            problem: Exception = exc
        else:
            try:
                self._check_writable(conn)
                return conn
            except (OSError, sqlite3.Error) as exc:
                conn.close()
                problem = exc
        try:  # a read-only cache still answers what it holds
            conn = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            _check_schema(conn)
            conn.execute("SELECT count(*) FROM scores").fetchone()
            self._degrade(f"cache {self.directory} is read-only ({problem})")
            return conn
        except (OSError, sqlite3.Error, _NewerSchema):
            self._degrade(f"cache {self.directory} cannot be used ({problem})")
            return None

    def _open_writable(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except (sqlite3.OperationalError, _NewerSchema):
            raise  # read-only, locked, cannot open, or not ours to change: leave it alone
        except sqlite3.DatabaseError:
            # Not a database (truncated or overwritten): keep it for inspection, start afresh.
            aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}-{os.getpid()}")
            os.replace(self.db_path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            return self._connect()

    def _check_writable(self, conn: sqlite3.Connection) -> None:
        """Raise unless the database and the images folder take writes.

        sqlite opens a database file it may not write without complaint, so this is asked
        up front by trying, which also holds for root. The database is asked through its own
        connection: opening and closing the file ourselves would drop every POSIX lock this
        process holds on it, and another process's checkpoint would then delete a WAL our
        other connections still use (a corrupt cache after every hunt).
        """
        conn.execute("BEGIN IMMEDIATE")
        try:  # a write that changes nothing, rolled back
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            conn.execute("ROLLBACK")
        fd, probe = tempfile.mkstemp(dir=self.images, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)

    def _degrade(self, problem: str) -> None:
        """Store nothing from now on; the first problem is the one to tell."""
        self._writable = False
        if self.notice is None:
            self.notice = f"{problem}: continuing without storing results in the cache"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            use_wal(conn, _BUSY_TIMEOUT_MS / 1000)
            conn.execute("PRAGMA synchronous = NORMAL")
            if _check_schema(conn) < SCHEMA_VERSION:
                _create_schema(conn)
            conn.execute("SELECT count(*) FROM scores").fetchone()
        except (sqlite3.DatabaseError, _NewerSchema):
            conn.close()
            raise
        return conn

    def _fetch(self, sql: str, key: str) -> tuple | None:
        return self._query(sql, (key,))

    def _query(self, sql: str, params: tuple = ()) -> tuple | None:
        if self._conn is None:
            return None
        try:
            return self._conn.execute(sql, params).fetchone()
        except sqlite3.DatabaseError:
            return None

    def _execute(self, sql: str, params: tuple) -> None:
        if not self._writable or self._conn is None:
            return
        try:
            with self._conn:
                self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            self._degrade(f"cannot write to {self.db_path} ({exc})")

    def _delete(self, table: str, key: str) -> None:
        self._execute(f"DELETE FROM {table} WHERE key = ?", (key,))

    @staticmethod
    def _read_image(path: Path, sha256: str) -> np.ndarray | None:
        import numpy as np

        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha256:
                return None
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None


def _narrowed(image: np.ndarray) -> np.ndarray:
    """float32 when that holds every value exactly (a C reference's image always does):
    half the disk of float64, and the same numbers read back."""
    import numpy as np

    if image.dtype == np.float64:
        narrow = image.astype(np.float32)
        if np.array_equal(narrow, image):
            return narrow
    return image


# --- inspection and clearing (`bisector cache info|clear`) -----------------------------------

@dataclass(frozen=True)
class CacheInfo:
    directory: Path
    total_bytes: int        # everything listed here, the C twin's builds and compile caches included
    reference_images: int
    scores: int
    built_programs: int     # C programs built from a port's source, and the C twin's builds
    compile_bytes: int      # torch.compile caches shared by candidate runs
    demo_bytes: int
    oldest: float | None  # creation time of the oldest entry (seconds since the epoch)
    notice: str | None    # why the cache is read-only or unusable


def info(directory: Path) -> CacheInfo:
    directory = Path(directory)
    entries: dict[str, tuple[int, float | None]] = {}
    notice = None
    if directory.is_dir():
        cache = Cache(directory)
        notice, entries = cache.notice, cache.entries()
        cache.close()
    elif directory.exists():
        notice = f"{directory} is not a folder"
    times = [oldest for _, oldest in entries.values() if oldest is not None]
    builds = _build_folders(directory)
    return CacheInfo(directory=directory,
                     total_bytes=_size(directory) + sum(_size(b) for b in _twin_builds()),
                     reference_images=entries.get("reference_images", (0, None))[0],
                     scores=entries.get("scores", (0, None))[0],
                     built_programs=sum(1 for b in builds for p in b.iterdir() if p.is_file()),
                     compile_bytes=_size(directory / "compile"), demo_bytes=_size(directory / "demo"),
                     oldest=min(times) if times else None, notice=notice)


def clear(directory: Path, older_than_s: float | None = None, *, twin: bool = False) -> int:
    """Remove cached entries (all, or those created more than ``older_than_s`` ago); how many
    entries, built programs, compile caches and demo folders went. Only bisector's own names
    in ``directory`` are touched, and with ``twin`` the C twin's builds (a per-user folder
    that every cache folder uses). Raises OSError when the cache cannot be written."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    if older_than_s is None:
        return _clear_all(directory, twin)
    cutoff = time.time() - older_than_s
    cache = Cache(directory)
    try:
        if cache.notice:
            raise OSError(cache.notice)
        removed = cache.forget_older_than(cutoff)
        kept = cache.image_files_in_use()
    finally:
        cache.close()
    for path in cache.images.glob("*.npy"):
        if path.name not in kept and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
    builds = _build_folders(directory) if twin else list((directory / "bin").glob("*"))
    for folder in [*builds, *(directory / "compile").glob("*"), directory / "demo"]:
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder)
            removed += 1
    return removed


def _clear_all(directory: Path, twin: bool) -> int:
    before = info(directory)
    twin_builds = _twin_builds() if twin else []
    compile_caches = len(list((directory / "compile").glob("*")))
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        (directory / name).unlink(missing_ok=True)
    for pattern in (f"{DB_NAME}.corrupt-*", "crash-*.log"):
        for path in directory.glob(pattern):
            path.unlink()
    for folder in [*twin_builds, *(directory / name for name in _FOLDERS)]:
        if folder.is_dir():
            shutil.rmtree(folder)
    programs = before.built_programs - (len(_twin_builds()) if not twin else 0)
    return (before.reference_images + before.scores + programs + compile_caches
            + (1 if before.demo_bytes else 0))


def _build_folders(directory: Path) -> list[Path]:
    """One folder per built C program: a port's C reference (``bin/<key>``) or the C twin."""
    return [p for p in (directory / "bin").glob("*") if p.is_dir()] + _twin_builds()


def _twin_builds() -> list[Path]:
    from simkernel import cref  # here, not at the top: cref imports numpy, which a scoring step defers

    return [p for p in cref.build_root().glob("*") if (p / cref.BINARY_NAME).is_file()]


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
