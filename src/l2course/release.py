"""``l2course release``: regenerate ``exercises/<id>/`` atomically (nbgrader's generate_assignment).

``nbgrader generate_assignment ID --force`` deletes the release folder before it generates the new
one, so a failing run (``alembic`` not on PATH, "Cannot modify existing assignment … because there
are submissions associated with it") leaves the course without its committed student notebook.
Here nbgrader generates the release in a scratch copy of the course that shares the real
gradebook (so nbgrader's own checks and records are unchanged), the result is copied next to the
release folder and only then swapped in with two renames on the same file system. Any failure
before the swap leaves ``exercises/<id>/`` byte for byte as it was.

It runs in the interpreter that runs ``l2course`` (``sys.executable``), so the venv need not be
activated; nbgrader's call to the ``alembic`` executable is replaced by an in-process read of
the same schema version (:func:`~l2course.speedups.fast_alembic_version`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from .course import COPY_IGNORE, Course
from .speedups import fast_alembic_version


class ReleaseError(RuntimeError):
    """nbgrader could not generate the release; the committed one is untouched."""


def generate(course: Course, assignment: str, db_url: str, scratch: Path) -> Path:
    """Run nbgrader's ``generate_assignment`` in a copy of the course under ``scratch``.

    Returns the generated release folder; raises :class:`ReleaseError` with nbgrader's log.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    src = course.source(assignment)
    shutil.copytree(src, scratch / course.folder_name("source") / assignment,
                    ignore=shutil.ignore_patterns(*COPY_IGNORE))
    config = course.private_config(scratch, db_url)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    try:
        out = api.generate_assignment(assignment, force=True, create=True)
    except Exception as exc:  # nbgrader raises some failures (e.g. a missing executable)
        raise ReleaseError(f"{type(exc).__name__}: {exc}") from exc
    new = scratch / course.folder_name("release") / assignment
    if not out["success"] or not any(new.glob("*.ipynb")):
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed: {why(out)}")
    return new


#: nbgrader's generic follow-up lines after the real error.
GENERIC = ("Traceback", "There was an error", "Please see the")


_EXCEPTION = re.compile(r"^\s*[A-Za-z_][\w.]*(?:Error|Exception): .+$")


def why(out: dict[str, str]) -> str:
    """nbgrader's own error lines and the exceptions in its log, without its generic ones."""
    log = str(out.get("log", ""))
    found = [line.removeprefix("[ERROR]").strip() for line in log.splitlines()
             if line.startswith("[ERROR]") or _EXCEPTION.match(line)]
    found = [e for e in found if e and not e.startswith(GENERIC) and "Please see the" not in e]
    if found:
        return "\n".join(dict.fromkeys(found))
    lines = [line for line in str(out.get("error") or log).splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def swap_in(new: Path, dest: Path) -> None:
    """Replace ``dest`` by a copy of ``new``: copy beside it, then rename (same file system)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    old = dest.parent / f".{dest.name}.old-{staged.name.rsplit('-', 1)[-1]}"
    try:
        shutil.copytree(new, staged, dirs_exist_ok=True)
        if dest.exists():
            dest.rename(old)
        try:
            staged.rename(dest)
        except OSError:
            if old.exists():
                old.rename(dest)  # put the committed release back
            raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def release(course: Course, assignment: str, db_url: str | None = None) -> Path:
    """Regenerate ``<release>/<assignment>/`` from ``<source>/<assignment>/``; return its path.

    The gradebook (``db_url``, default the course's) records the assignment as nbgrader's own
    command would. Raises :class:`ReleaseError` (nothing replaced) if generation fails.
    """
    fast_alembic_version()
    db_url = db_url or course.db_url
    dest = course.folder("release") / assignment
    new_db = _new_sqlite_file(db_url)
    with tempfile.TemporaryDirectory(prefix="l2course-release-") as tmp:
        try:
            new = generate(course, assignment, db_url, Path(tmp))
        except ReleaseError:
            if new_db is not None:  # nbgrader leaves a half-made gradebook when it fails
                new_db.unlink(missing_ok=True)
            raise
        swap_in(new, dest)
    return dest


def _new_sqlite_file(db_url: str) -> Path | None:
    """The SQLite file of ``db_url`` if it does not exist yet (so a failure may remove it)."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return None
    path = Path(db_url[len(prefix):])
    return None if path.exists() else path
