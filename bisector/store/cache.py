"""A per-user cache of reference images and candidate metrics (SQLite + .npy files).

Layout under ``cache_dir``: ``cache.sqlite3`` (WAL mode, so concurrent runs do not block
each other for long) and ``images/<sha256>.npy``. Scores store *metrics*, never verdicts,
so a changed threshold re-judges without re-running the candidate. Anything that cannot
be read back exactly (a missing or damaged .npy, a row with bad JSON, a database that is
not a database) is treated as a miss and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy costs ~0.15 s to import: only paths that touch images load it
    import numpy as np

DB_NAME = "cache.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_images (
    key TEXT PRIMARY KEY, parts TEXT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, parts TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL);
"""
_BUSY_TIMEOUT_MS = 30_000


def digest(parts: Any) -> str:
    """A stable key for JSON-serialisable ``parts`` (dict order does not matter)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; these files are for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class Cache:
    """Reference images keyed by (reference key, scenario args); scores by an opaque key dict."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.images = self.directory / "images"
        self.images.mkdir(parents=True, exist_ok=True)
        self.db_path = self.directory / DB_NAME
        self._conn = self._open()

    def close(self) -> None:
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
        parts = {"reference": reference_key, "args": list(args)}
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(image), allow_pickle=False)
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        name = f"{sha}.npy"
        atomic_write(self.images / name, data)
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

    # --- internals -------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            # Not a database (truncated or overwritten): keep it for inspection, start afresh.
            aside = self.db_path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}-{os.getpid()}")
            os.replace(self.db_path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM scores").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _fetch(self, sql: str, key: str) -> tuple | None:
        try:
            return self._conn.execute(sql, (key,)).fetchone()
        except sqlite3.DatabaseError:
            return None

    def _execute(self, sql: str, params: tuple) -> None:
        with self._conn:
            self._conn.execute(sql, params)

    def _delete(self, table: str, key: str) -> None:
        try:
            self._execute(f"DELETE FROM {table} WHERE key = ?", (key,))
        except sqlite3.DatabaseError:
            pass

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
