"""Attempts at the self-check server, counted per learner for the instructor's report.

One SQLite file, ``<state dir>/attempts.sqlite`` (default ``<course root>/check-server/``), one
row per answered upload: learner, assignment, UTC time, outcome (``graded``, ``limit``,
``crashed`` … or ``rejected`` for unusable input), score, max score and seconds. The course's
nbgrader gradebook is never touched. ``l2course attempts`` prints the per-learner summary;
the file can be opened with any SQLite client.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

ATTEMPTS_FILE = "attempts.sqlite"
SCHEMA = """CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    learner TEXT NOT NULL,
    assignment TEXT NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    score REAL,
    max_score REAL,
    seconds REAL
)"""


class AttemptLog:
    """Append-only log of attempts (thread-safe; one connection per call)."""

    def __init__(self, state: Path) -> None:
        self.path = Path(state) / ATTEMPTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add(self, learner: str, assignment: str, outcome: str, score: float | None = None,
            max_score: float | None = None, seconds: float | None = None) -> int:
        """Record one attempt; returns the learner's number of attempts at this assignment."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock, self._connect() as db:
            db.execute("INSERT INTO attempts (learner, assignment, at, outcome, score, "
                       "max_score, seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (learner, assignment, at, outcome, score, max_score, seconds))
            (count,) = db.execute("SELECT COUNT(*) FROM attempts WHERE learner = ? AND "
                                  "assignment = ?", (learner, assignment)).fetchone()
        return int(count)

    def summary(self) -> list[tuple[str, str, int, float | None, float | None, str]]:
        """``(learner, assignment, attempts, best score, max score, last time)`` rows."""
        with self._connect() as db:
            return db.execute(
                "SELECT learner, assignment, COUNT(*), MAX(score), MAX(max_score), MAX(at) "
                "FROM attempts GROUP BY learner, assignment ORDER BY learner, assignment"
            ).fetchall()

    def rows(self) -> list[tuple]:
        with self._connect() as db:
            return db.execute("SELECT learner, assignment, outcome, score, max_score "
                              "FROM attempts ORDER BY id").fetchall()
