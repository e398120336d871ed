"""The nightly ledger: one row per night (branch tip, verdict, metrics, hunt outcome), in SQLite.

Default place: ``<git common dir>/bisector/ledger.sqlite3`` (beside the repository's
objects, never in the working tree). Every change is its own short committed transaction,
written as the night goes (started, tip scored, hunting, finished), so a process killed at
any moment leaves a ledger the next night reads, with that night shown as interrupted.

One connection discipline, for every process at once: the file is only ever opened by
SQLite (closing any other descriptor of it would drop this process's POSIX locks and let
another process corrupt the WAL), WAL mode is set once when the ledger is made, writers
take the write lock up front and wait for each other (busy timeout).

The layout is versioned (``PRAGMA user_version``). A file that is not a ledger this version
of bisector knows (foreign, damaged, written by a newer bisector, an unknown layout) is
reported and left exactly as it is: it may be the only record of months of nights.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..errors import BisectorError, RunExit
from .wal import use_wal

LEDGER_NAME = "ledger.sqlite3"
SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 60.0
_NIGHT_COLUMNS = ("id", "started", "finished", "branch", "tip", "tip_date", "phase", "verdict", "outcome",
                  "exit_code", "hunted_from", "culprit", "report", "note")
_RESULT_COLUMNS = ("night", "scenario", "verdict", "correlation", "sum_ratio", "reason")
_SCHEMA = ("""
CREATE TABLE nights (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL,
    branch TEXT NOT NULL,
    tip TEXT NOT NULL,
    tip_date TEXT,
    phase TEXT NOT NULL,          -- scoring, hunting, done
    verdict TEXT,                 -- the tip's verdict
    outcome TEXT,                 -- good, pinned, not_pinned, untestable, bad_input, error; NULL while running
    exit_code INTEGER,
    hunted_from TEXT,
    culprit TEXT,
    report TEXT,
    note TEXT)""", """
CREATE TABLE results (
    night INTEGER NOT NULL REFERENCES nights(id),
    scenario TEXT NOT NULL,
    verdict TEXT NOT NULL,
    correlation REAL,
    sum_ratio REAL,
    reason TEXT,
    PRIMARY KEY (night, scenario))""")
_TABLES = {"nights": _NIGHT_COLUMNS, "results": _RESULT_COLUMNS}
_SQLITE_OWN = {"sqlite_sequence"}  # made by SQLite for AUTOINCREMENT


class LedgerError(BisectorError):
    """The ledger file cannot be used as a ledger (a harness failure, exit 4)."""

    exit_code = RunExit.HARNESS


class LedgerNotWritable(LedgerError):
    """The ledger (or its folder) cannot be written: the place given is wrong (bad input)."""

    exit_code = RunExit.BAD_INPUT


@dataclass(frozen=True)
class ScenarioEntry:
    scenario: str
    verdict: str
    correlation: float | None
    sum_ratio: float | None
    reason: str | None


@dataclass(frozen=True)
class Night:
    id: int
    started: float
    finished: float | None
    branch: str
    tip: str
    tip_date: str | None
    phase: str
    verdict: str | None
    outcome: str | None
    exit_code: int | None
    hunted_from: str | None
    culprit: str | None
    report: str | None
    note: str | None
    results: tuple[ScenarioEntry, ...] = field(default=())

    @property
    def interrupted(self) -> bool:
        """Started but never finished: killed, or still running in another process."""
        return self.outcome is None


def default_path(repo: Path) -> Path:
    return git.common_dir(repo) / "bisector" / LEDGER_NAME


class Ledger:
    """An open ledger; every method commits before it returns.

    ``read_only``: opened for reading only (``bisector history``): nothing is created,
    upgraded or written, not even an empty file turned into a database.
    """

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            _make_folder(self.path)
        self._connect(_uri(self.path, read_only))
        try:
            self._open()
        except LedgerNotWritable:
            self._db.close()
            if not read_only:
                raise
            # A WAL ledger in a folder we cannot write has no shared-memory file to read it
            # through; as nobody can write there either, it is read as an unchanging file.
            self._connect(_uri(self.path, read_only) + "&immutable=1")
            self._open_or_close()
        except BaseException:
            self._db.close()
            raise

    def _connect(self, uri: str) -> None:
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._refusal(exc) from None

    def _open_or_close(self) -> None:
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing, one committed step at a time -------------------------------------------------
    def begin(self, branch: str, tip: str, tip_date: str | None) -> int:
        cur = self._write("INSERT INTO nights (started, branch, tip, tip_date, phase) VALUES (?, ?, ?, ?, 'scoring')",
                          (time.time(), branch, tip, tip_date))
        return int(cur.lastrowid)

    def record_tip(self, night: int, verdict: str, scenarios: list[dict]) -> None:
        rows = [(night, sc["name"], sc["verdict"], sc.get("correlation"), sc.get("sum_ratio"), sc.get("reason"))
                for sc in scenarios]
        with self._transaction() as db:
            db.execute("UPDATE nights SET verdict = ? WHERE id = ?", (verdict, night))
            db.executemany(f"INSERT OR REPLACE INTO results ({', '.join(_RESULT_COLUMNS)}) "
                           "VALUES (?, ?, ?, ?, ?, ?)", rows)

    def hunting(self, night: int, hunted_from: str) -> None:
        self._write("UPDATE nights SET phase = 'hunting', hunted_from = ? WHERE id = ?", (hunted_from, night))

    def finish(self, night: int, *, outcome: str, exit_code: int, culprit: str | None = None,
               report: str | None = None, note: str | None = None) -> None:
        self._write("UPDATE nights SET phase = 'done', finished = ?, outcome = ?, exit_code = ?, culprit = ?, "
                    "report = ?, note = ? WHERE id = ?",
                    (time.time(), outcome, int(exit_code), culprit, report, note, night))

    # -- reading -------------------------------------------------------------------------------
    def nights(self, branch: str | None = None, limit: int | None = None) -> list[Night]:
        """Nights oldest first (the last ``limit`` of them), each with its per-scenario results."""
        if not self._tables():
            return []  # an empty file opened read-only: no night yet
        where, args = ("WHERE branch = ?", [branch]) if branch else ("", [])
        try:
            self._db.execute("BEGIN")  # one snapshot for both tables
            try:
                rows = self._db.execute(f"SELECT {', '.join(_NIGHT_COLUMNS)} FROM nights {where} ORDER BY id DESC"
                                        + (" LIMIT ?" if limit else ""),
                                        args + ([limit] if limit else [])).fetchall()
                results: dict[int, list[ScenarioEntry]] = {}
                for night, *rest in self._db.execute(f"SELECT {', '.join(_RESULT_COLUMNS)} FROM results "
                                                     "ORDER BY night, scenario"):
                    results.setdefault(night, []).append(ScenarioEntry(*rest))
            finally:
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._refusal(exc) from None
        return [Night(*row, results=tuple(results.get(row[0], ()))) for row in reversed(rows)]

    def good_nights(self, branch: str | None = None) -> list[Night]:
        """Nights whose tip was judged good, newest first (candidates for the last known good commit)."""
        return [n for n in reversed(self.nights(branch)) if n.verdict == "good"]

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            self._check_readable()
            if self.read_only:
                return
            # Set once, when the ledger is made or first upgraded: a ledger we refuse is never written.
            use_wal(self._db, _BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise self._refusal(exc) from None
        with self._transaction() as db:
            tables = self._tables()
            self._check_layout(tables)  # another process may have made it meanwhile
            if not tables:
                for statement in _SCHEMA:  # not executescript: it would commit first
                    db.execute(statement)
            # A write on every open: a ledger we cannot write is found before the night is scored.
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_readable(self) -> None:
        """Header, integrity and layout, read in one snapshot.

        Read apart, the tables and ``user_version`` could straddle another process's creation
        of the ledger: no table yet, then version 1, which looks like a foreign layout.
        """
        self._db.execute("BEGIN")
        try:
            self._db.execute("PRAGMA schema_version").fetchone()  # reads the header: a foreign file fails here
            self._check_integrity()
            self._check_layout(self._tables())
        finally:
            if self._db.in_transaction:  # it wrote nothing: ending it either way is the same
                self._db.execute("ROLLBACK")

    def _tables(self) -> dict[str, tuple[str, ...]]:
        names = [row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: tuple(row[0] for row in self._db.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid",
                                                                        (name,)))
                for name in names if name not in _SQLITE_OWN}

    def _check_layout(self, tables: dict[str, tuple[str, ...]]) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(f"the ledger {self.path} was written by a newer bisector (layout version {version}; "
                              f"this bisector knows up to {SCHEMA_VERSION}); it was left as it is",
                              hint="upgrade bisector, or pass --ledger with another file")
        if not tables and version == 0:
            return  # a new (empty) ledger
        if tables != _TABLES:
            raise LedgerError(f"the ledger {self.path} has a layout this bisector does not know "
                              f"({_layout_difference(tables)}); it was left as it is",
                              hint="pass --ledger with a ledger made by bisector, or with a new file")

    def _check_integrity(self) -> None:
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise LedgerError(f"the ledger {self.path} is damaged ({'; '.join(problems[:3])}); "
                              "it was left as it is", hint=_MOVE_ASIDE)

    # -- plumbing ------------------------------------------------------------------------------
    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        with self._transaction() as db:
            return db.execute(sql, args)

    def _transaction(self) -> "_Transaction":
        return _Transaction(self)

    def _refusal(self, exc: sqlite3.Error) -> LedgerError:
        return _refusal(self.path, exc, self.read_only)


class _Transaction:
    """BEGIN IMMEDIATE .. COMMIT: a writer waits for the other process instead of failing."""

    def __init__(self, ledger: Ledger):
        self.ledger, self.db = ledger, ledger._db

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.ledger._refusal(exc) from None
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as error:
                exc = error
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise self.ledger._refusal(exc) from None


_MOVE_ASIDE = ("move it aside (or restore a backup) and run again, or pass --ledger with another file")
_MAKE_WRITABLE = ("`bisector nightly` adds a row per night: make the file and its folder writable, "
                  "or pass --ledger with a file in a folder you can write to (`bisector history` reads it as it is)")


def _uri(path: Path, read_only: bool) -> str:
    """The path as an SQLite URI, taken literally (``?``, ``#`` and ``%`` in names are data)."""
    quoted = urllib.parse.quote(str(path.absolute()), safe="/")
    return f"file:{quoted}?mode=ro" if read_only else f"file:{quoted}?mode=rwc"


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists() and not p.is_dir()), None)
        what = f"{blocker} is a file, not a folder" if blocker else (exc.strerror or str(exc))
        raise LedgerNotWritable(f"cannot make the ledger {path}: {what}",
                                hint="pass --ledger with a file in a folder") from None
    if path.is_dir():
        raise LedgerNotWritable(f"the ledger {path} is a folder, not a file", hint="pass --ledger with a file path")


def _refusal(path: Path, exc: sqlite3.Error, read_only: bool) -> LedgerError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY") and not read_only:
        return LedgerNotWritable(f"the ledger {path} is read-only", hint=_MAKE_WRITABLE)
    if name.startswith("SQLITE_CANTOPEN"):
        if read_only:
            return LedgerNotWritable(f"cannot open the ledger {path}",
                                     hint="check that it exists and that you can read it")
        return LedgerNotWritable(f"the ledger {path} cannot be written (the file or its folder is read-only, "
                                 "or missing)", hint=_MAKE_WRITABLE)
    if name == "SQLITE_NOTADB":
        return LedgerError(f"{path} is not a bisector ledger (not an SQLite database); it was left as it is",
                           hint=_MOVE_ASIDE)
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return LedgerError(f"cannot write the ledger {path}: {exc}", hint="free space on its disk, then run again")
    return LedgerError(f"the ledger {path} cannot be read: {exc}; it was left as it is", hint=_MOVE_ASIDE)


def _layout_difference(tables: dict[str, tuple[str, ...]]) -> str:
    parts = []
    for name, columns in _TABLES.items():
        found = tables.get(name)
        if found is None:
            parts.append(f"no table {name}")
            continue
        extra = [c for c in found if c not in columns]
        missing = [c for c in columns if c not in found]
        if extra:
            parts.append(f"{name}: unknown column{'s' if len(extra) > 1 else ''} {', '.join(extra)}")
        if missing:
            parts.append(f"{name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    others = sorted(set(tables) - set(_TABLES))
    if others:
        parts.append(f"other tables: {', '.join(others)}")
    return "; ".join(parts) or "columns in another order"
