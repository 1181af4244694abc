"""The gradebook's URL: SQLite by default, PostgreSQL (psycopg 3) for a large class.

nbgrader opens whatever SQLAlchemy URL it is given. SQLAlchemy reads ``postgresql://`` as the
psycopg2 driver, which the course does not install; the grader uses psycopg 3 (pinned in
requirements.lock), so ``postgresql://`` and ``postgres://`` are read as
``postgresql+psycopg://``. (nbgrader's own commands, e.g. ``nbgrader export --db``, need that
spelling given explicitly.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
#: Tries of a gradebook write that met a concurrent writer, and the pause before the next.
ATTEMPTS, PAUSE = 5, 0.2


class GradebookUnavailable(RuntimeError):
    """The gradebook's database server cannot be reached (nothing has been written)."""


def normalise_db_url(url: str) -> str:
    """``postgresql://…`` or ``postgres://…`` → ``postgresql+psycopg://…``; others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def shown(url: str) -> str:
    """The URL as printed: any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: print it as given
        return url


def check_reachable(url: str) -> None:
    """Connect once to a server gradebook (not SQLite); GradebookUnavailable if that fails."""
    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GradebookUnavailable(f"cannot open the gradebook {shown(url)}: {first}") from exc
    finally:
        engine.dispose()


def retrying(action: Callable[[], T], also: tuple[type[Exception], ...] = ()) -> T:
    """``action()``, tried again when another grading run writing the same server gradebook
    got there first (a row both insert, the tables both create: IntegrityError, nbgrader's
    InvalidEntry; a serialization failure or deadlock).

    Each run records its own results one at a time; several runs (e.g. one per assignment) may
    share a PostgreSQL gradebook, and nbgrader's find-then-insert is not atomic. ``also`` adds
    exception types worth a retry (``generate_assignment`` reports its failures as
    RuntimeError). The last failure is raised.
    """
    from nbgrader.api import InvalidEntry

    for attempt in range(1, ATTEMPTS + 1):
        try:
            return action()
        except (DBAPIError, InvalidEntry, *also):
            if attempt == ATTEMPTS:
                raise
            time.sleep(PAUSE * attempt)
    raise AssertionError("unreachable")
