"""The nightly ledger: one row per night (branch tip, verdict, metrics, hunt outcome), in SQLite.

Default place: ``<git common dir>/bisector/ledger.sqlite3`` (beside the repository's
objects, never in the working tree). WAL mode and a busy timeout let two nightly processes
started at once both land their rows. Every change is its own committed transaction, written
as the night goes (started, tip scored, hunting, finished), so a process killed at any moment
leaves a ledger the next night reads, with that night shown as interrupted. A file that is
not a readable ledger is reported and left exactly as it is: it may be the only record of
months of nights.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import git
from ..errors import BisectorError

LEDGER_NAME = "ledger.sqlite3"
_SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_S = 60.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS nights (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    finished REAL,
    branch TEXT NOT NULL,
    tip TEXT NOT NULL,
    tip_date TEXT,
    phase TEXT NOT NULL,          -- scoring, hunting, done
    verdict TEXT,                 -- the tip's verdict
    outcome TEXT,                 -- good, pinned, not_pinned, untestable, error; NULL while running
    exit_code INTEGER,
    hunted_from TEXT,
    culprit TEXT,
    report TEXT,
    note TEXT);
CREATE TABLE IF NOT EXISTS results (
    night INTEGER NOT NULL REFERENCES nights(id),
    scenario TEXT NOT NULL,
    verdict TEXT NOT NULL,
    correlation REAL,
    sum_ratio REAL,
    reason TEXT,
    PRIMARY KEY (night, scenario));
"""


class LedgerError(BisectorError):
    """The ledger file cannot be read as a ledger (a harness failure, exit 4)."""

    exit_code = 4


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
    """An open ledger; every method commits before it returns."""

    def __init__(self, path: Path):
        self.path = Path(path)
        _check_header(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._check_integrity()
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None

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
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)", rows)

    def hunting(self, night: int, hunted_from: str) -> None:
        self._write("UPDATE nights SET phase = 'hunting', hunted_from = ? WHERE id = ?", (hunted_from, night))

    def finish(self, night: int, *, outcome: str, exit_code: int, culprit: str | None = None,
               report: str | None = None, note: str | None = None) -> None:
        self._write("UPDATE nights SET phase = 'done', finished = ?, outcome = ?, exit_code = ?, culprit = ?, "
                    "report = ?, note = ? WHERE id = ?",
                    (time.time(), outcome, exit_code, culprit, report, note, night))

    # -- reading -------------------------------------------------------------------------------
    def nights(self, branch: str | None = None, limit: int | None = None) -> list[Night]:
        """Nights oldest first (the last ``limit`` of them), each with its per-scenario results."""
        try:
            where, args = ("WHERE branch = ?", [branch]) if branch else ("", [])
            rows = self._db.execute(f"SELECT * FROM nights {where} ORDER BY id DESC"
                                    + (" LIMIT ?" if limit else ""), args + ([limit] if limit else [])).fetchall()
            results: dict[int, list[ScenarioEntry]] = {}
            for night, *rest in self._db.execute("SELECT * FROM results ORDER BY night, scenario"):
                results.setdefault(night, []).append(ScenarioEntry(*rest))
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None
        return [Night(*row, results=tuple(results.get(row[0], ()))) for row in reversed(rows)]

    def good_tips(self, branch: str | None = None) -> list[str]:
        """Tips judged good, newest first (the candidates for the last known good commit)."""
        return [n.tip for n in reversed(self.nights(branch)) if n.verdict == "good"]

    # -- plumbing ------------------------------------------------------------------------------
    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        with self._transaction() as db:
            return db.execute(sql, args)

    def _transaction(self):
        return _Transaction(self._db, self.path)

    def _check_integrity(self) -> None:
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise LedgerError(f"the ledger {self.path} is damaged ({'; '.join(problems[:3])})",
                              hint=_MOVE_ASIDE)


class _Transaction:
    """BEGIN IMMEDIATE .. COMMIT: a writer waits for the other process instead of failing."""

    def __init__(self, db: sqlite3.Connection, path: Path):
        self.db, self.path = db, path

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise _unreadable(self.path, exc) from None
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise _unreadable(self.path, exc) from None


_MOVE_ASIDE = ("it was left as it is: move it aside (or restore a backup) and run again, "
               "or pass --ledger with another file")


def _check_header(path: Path) -> None:
    """SQLite would treat some non-database files as empty databases: refuse anything foreign."""
    try:
        if not path.exists() or path.stat().st_size == 0:
            return
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {path}: {exc.strerror}", hint=_MOVE_ASIDE) from None
    if header != _SQLITE_HEADER:
        raise LedgerError(f"{path} is not a bisector ledger (not an SQLite database)", hint=_MOVE_ASIDE)


def _unreadable(path: Path, exc: Exception) -> LedgerError:
    return LedgerError(f"the ledger {path} cannot be read: {exc}", hint=_MOVE_ASIDE)
