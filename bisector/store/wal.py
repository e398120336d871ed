"""Switching an SQLite database to write-ahead logging when several processes open it new.

The cache and the ledger are both made by whichever process comes first, and several
often come at once (workers of one hunt, hunts started together). Each switches the new
file to WAL once. ``PRAGMA journal_mode = WAL`` needs the exclusive lock while the asking
connection already holds a read lock; when two connections ask together, SQLite refuses
one of them at once with SQLITE_BUSY instead of calling the busy handler, because waiting
would deadlock. The refused one asks again a moment later, until the busy timeout.
"""

from __future__ import annotations

import random
import sqlite3
import time


def use_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Put the database of ``conn`` in WAL mode unless it is already; wait out a concurrent switch."""
    deadline = time.monotonic() + timeout_s
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return  # a file system without WAL support answers with the old mode: nothing to wait for
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
        time.sleep(random.uniform(0.005, 0.05))  # apart, so the next try does not collide again
