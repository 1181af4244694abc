"""The class's results per graded cell, read back from the gradebook and the autograded notebooks.

Everything comes from what grading leaves on disk (nbgrader's gradebook: scores, submission
timestamps, due date and late penalty; ``autograded/<student>/<assignment>/``: each test's error
message), so a report can be rebuilt at any time, whoever graded (``l2course grade`` or plain
``nbgrader autograde``).

A **named mistake** is the diagnosis a test raises (``AssertionError: grad_w: expected …, got ….
This looks like forgetting the 2. See chapter 2 …``). Its grouping key (:func:`mistake_key`) is
the mistake the test names ("This looks like …") when it names one, else the message's first
sentence; in both, numbers and printed arrays are masked (``#``, ``[…]``), because they differ
from student to student while the mistake is the same.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import Course
from .gradebook import grade_id_order
from .worker import cell_messages

#: Key of a lost cell with no error output (partial credit, or never run).
NO_MESSAGE = "lost points without an error message"
#: Key of the cells of a submission that was never run (no autograded notebook).
NOT_RUN = "not graded: the submission could not be run"

_ARRAY = re.compile(r"\[[^\[\]]*\]|array\([^()]*\)")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
_LOOKS_LIKE = re.compile(r"\bThis looks like (.+?)\.(?:\s+See\b|\s*$)", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`'\"])")


def masked(text: str) -> str:
    """``text`` with printed arrays and numbers replaced by ``[…]`` and ``#``."""
    for _ in range(3):  # nested brackets, innermost first
        text = _ARRAY.sub("[…]", text)
    return _NUMBER.sub("#", text)


def mistake_key(message: str) -> str:
    """The named mistake of a test's error message (see the module docstring)."""
    first_line = message.strip()
    ename, sep, value = first_line.partition(": ")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w.]*", ename):
        ename, value = "", first_line
    value = " ".join(value.split())
    named = _LOOKS_LIKE.search(value)
    if named:  # the mistake's own name is fixed text: kept as written
        label = masked(value.split(": ", 1)[0]) if ": " in value else ""
        text = f"{label}: looks like {named.group(1)}" if label else f"looks like {named.group(1)}"
    else:
        value = masked(value)
        text = _SENTENCE_END.split(value, maxsplit=1)[0] if value else ""
    if ename and ename != "AssertionError":
        text = f"{ename}: {text}" if text else ename
    return text or NO_MESSAGE


@dataclass
class Item:
    """One graded cell across the class."""

    notebook: str
    grade_id: str
    max_points: float
    scores: list[float] = field(default_factory=list)
    mistakes: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.grade_id if self.notebook == "" else f"{self.notebook}/{self.grade_id}"

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scores if s >= self.max_points)

    @property
    def pass_rate(self) -> float:
        return self.passed / len(self.scores) if self.scores else 0.0


@dataclass
class Row:
    """One student's submission."""

    student: str
    score: float
    max_score: float
    penalty: float
    timestamp: datetime | None
    seconds_late: float
    cells: dict[str, float]

    @property
    def final(self) -> float:
        """nbgrader's exported score: the raw score less the late penalty, never below 0."""
        return max(0.0, self.score - self.penalty)


@dataclass
class ClassData:
    """An assignment's submissions and graded cells."""

    assignment: str
    duedate: datetime | None
    max_score: float
    items: list[Item]
    rows: list[Row]

    @property
    def has_timestamps(self) -> bool:
        return any(r.timestamp is not None for r in self.rows)


def _items(course: Course, gb: Gradebook, assignment: str) -> list[Item]:
    """The assignment's graded cells that carry points, in notebook order."""
    a = gb.find_assignment(assignment)
    one = len(a.notebooks) == 1
    items = []
    for nb in a.notebooks:
        order = grade_id_order(course.folder("source") / assignment, nb.name)
        cells = sorted(nb.grade_cells, key=lambda c: (order.get(c.name, len(order)), c.name))
        for cell in cells:
            if cell.max_score > 0:
                items.append(Item("" if one else nb.name, cell.name, float(cell.max_score)))
    return items


def read_class(course: Course, assignment: str, db_url: str | None = None) -> ClassData:
    """Every submission of ``assignment`` in the gradebook, with each graded cell's mistakes."""
    with Gradebook(db_url or course.db_url, course.course_id) as gb:
        try:
            items = _items(course, gb, assignment)
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise FileNotFoundError(
                f"the gradebook has no assignment {assignment!r}: grade it first") from None
        by_key = {(i.notebook, i.grade_id): i for i in items}
        one = len(a.notebooks) == 1
        rows = []
        for sub in sorted(a.submissions, key=lambda s: s.student.id):
            student = sub.student.id
            folder = course.folder("autograded") / student / assignment
            messages = cell_messages(folder) if folder.is_dir() else None
            cells = {}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    item = by_key.get(("" if one else nb.name, grade.name))
                    if item is None:
                        continue
                    score = float(grade.score or 0.0)
                    cells[item.name] = score
                    item.scores.append(score)
                    if score < item.max_points:
                        item.mistakes[_mistake(messages, nb.name, grade.name)] += 1
            rows.append(Row(student, float(sub.score), float(sub.max_score),
                            float(sub.late_submission_penalty or 0.0), sub.timestamp,
                            float(sub.total_seconds_late), cells))
        return ClassData(assignment, a.duedate, float(a.max_score), items, rows)


def _mistake(messages: dict[tuple[str, str], str] | None, notebook: str, grade_id: str) -> str:
    if messages is None:
        return NOT_RUN
    message = messages.get((notebook, grade_id))
    return mistake_key(message) if message else NO_MESSAGE


def report_dir(course: Course, assignment: str) -> Path:
    """``<root>/reports/<assignment>``: the class report, items.csv and the grades file."""
    return course.root / "reports" / assignment
