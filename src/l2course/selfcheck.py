"""Where a learner's self-check finds its course and which assignment a notebook is.

``l2course check ex02-mechanism.ipynb`` is typed in the notebook's own folder, in any folder of a
clone, or on a download ("ex05 (1).ipynb") anywhere: the course is the nearest folder with
``nbgrader_config.py`` above the notebook, else above the current folder; the assignment is the
course's assignment whose graded cells (nbgrader's ``grade_id`` metadata, which the release keeps
and the grader restores) the notebook shares most, so the file name does not matter.
Cost: one JSON read per assignment source notebook (a few ms each).
"""

from __future__ import annotations

import json
from pathlib import Path

from .course import CONFIG_FILE, Course


class CourseNotFound(FileNotFoundError):
    """No course above the notebook or the current folder; the message says what to do."""


def find_course(notebook: Path, cwd: Path | None = None) -> Course:
    """The nearest course root above ``notebook``, else above ``cwd`` (walking up)."""
    cwd = (cwd or Path.cwd()).resolve()
    starts = list(dict.fromkeys([notebook.resolve().parent, cwd]))
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / CONFIG_FILE).is_file():
                return Course.load(folder)
    raise CourseNotFound(
        f"cannot find the course: there is no {CONFIG_FILE} in "
        f"{' or '.join(map(str, starts))}, or in any folder above.\n"
        "The self-check needs a clone of the course repository with its environment: "
        "`git clone <the course's repository>`, then `make venv` in it (see the README, "
        "'For learners').\nThen run it from anywhere inside the clone, e.g. "
        "`.venv/bin/l2course check path/to/your-notebook.ipynb`, "
        "or from elsewhere with `--course-dir PATH/TO/THE/CLONE`."
    )


def grade_ids(path: Path) -> set[str]:
    """The ``grade_id`` of every nbgrader cell of a notebook (empty if it cannot be read)."""
    try:
        cells = json.loads(path.read_bytes()).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return set()
    ids = set()
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            ids.add(meta["grade_id"])
    return ids


def identify_assignment(course: Course, notebook: Path) -> str | None:
    """The course's assignment whose source notebooks share the most graded cells with
    ``notebook``; failing that, the one its file name starts with ("ex05 (1)" → ex05-…);
    None if neither."""
    mine = grade_ids(notebook) - {"helpers", "setup"}
    best, overlap = None, 0
    for assignment in course.assignments():
        theirs: set[str] = set()
        for source in (course.folder("source") / assignment).glob("*.ipynb"):
            theirs |= grade_ids(source)
        shared = len(mine & theirs)
        if shared > overlap:
            best, overlap = assignment, shared
    if best is None:  # no nbgrader metadata left (e.g. stripped by another editor): the name
        named = [a for a in course.assignments()
                 if notebook.stem == a or notebook.stem.startswith(a.split("-")[0] + " ")
                 or notebook.stem.startswith(a)]
        return named[0] if len(named) == 1 else None
    return best


def unknown_assignment(course: Course, notebook: Path) -> str:
    """What to say when no assignment matches the notebook."""
    names = ", ".join(course.assignments()) or "none"
    return (f"{notebook.name} is not one of this course's exercises ({course.root}): none of its "
            f"graded cells is in an assignment of the course (assignments: {names}). "
            "If it is one, name it: `l2course check NOTEBOOK --assignment ID`.")
