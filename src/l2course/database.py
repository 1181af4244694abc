"""The gradebook's URL: SQLite by default, PostgreSQL (psycopg 3) for a large class.

nbgrader opens whatever SQLAlchemy URL it is given. SQLAlchemy reads ``postgresql://`` as the
psycopg2 driver, which the course does not install; the grader uses psycopg 3 (pinned in
requirements.lock), so ``postgresql://`` and ``postgres://`` are read as
``postgresql+psycopg://``. (nbgrader's own commands, e.g. ``nbgrader export --db``, need that
spelling given explicitly.)
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


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
