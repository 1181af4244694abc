"""Late work, as nbgrader decides it: ``timestamp.txt``, due dates, extensions and penalties.

nbgrader's ``autograde`` reads ``timestamp.txt`` from the submission folder (``nbgrader submit``
and ``collect`` write it), stores it on the submission, and its ``AssignLatePenalties``
preprocessor asks the course's late-submission plugin (``c.AssignLatePenalties.plugin_class``,
by default ``LateSubmissionPlugin`` with ``c.LateSubmissionPlugin.penalty_method``) for each
notebook's penalty. Our workers grade in private gradebooks that know no due date, so the parent
does the same against the course's gradebook after recording a result: the timestamp is parsed
by nbgrader's ``parse_utc``, lateness is nbgrader's ``SubmittedAssignment.total_seconds_late``
(due date plus the student's extension) and the penalty comes from nbgrader's own
``AssignLatePenalties`` run with the course's config. Cost: one gradebook session per submission.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbformat.v4 import new_notebook
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties
from nbgrader.utils import parse_utc
from traitlets.config import Config

TIMESTAMP_FILE = "timestamp.txt"
_QUIET = logging.getLogger("l2course.lateness")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False  # the summary, grades file and feedback say it instead


class TimestampError(ValueError):
    """``timestamp.txt`` holds something nbgrader cannot parse (nbgrader fails the submission)."""


def read_timestamp(folder: Path | None) -> datetime | None:
    """The UTC submission time in ``folder/timestamp.txt`` (naive, as nbgrader stores it).

    None when there is no such file or it is empty (nbgrader warns and goes on); TimestampError
    when it cannot be parsed (nbgrader's autograde fails that submission).
    """
    path = None if folder is None else Path(folder) / TIMESTAMP_FILE
    if path is None or not path.is_file():
        return None
    text = path.read_text(errors="replace").strip()
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as exc:
        raise TimestampError(f"{TIMESTAMP_FILE} is not a valid timestamp ({text[:60]!r})") from exc


@dataclass(frozen=True)
class Lateness:
    """When a submission came in, against its due date (with extension), and the penalty."""

    timestamp: datetime | None = None
    duedate: datetime | None = None
    seconds_late: float = 0.0
    penalty: float = 0.0

    @property
    def late(self) -> bool:
        return self.seconds_late > 0

    def note(self) -> str:
        """One line for the summary and the grades file ("" when on time or undated)."""
        if not self.late:
            return ""
        text = f"late by {duration(self.seconds_late)}"
        if self.penalty:
            text += f" (late penalty {self.penalty:g} points)"
        return text


def duration(seconds: float) -> str:
    """``295200`` → ``"3 days 10 hours"``: the two largest units, for people."""
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    parts = []
    rest = int(round(seconds))
    for name, size in units:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


def apply_lateness(db_url: str, course_id: str, assignment: str, student: str,
                   timestamp: datetime | None, config: Config,
                   notebooks: list[str]) -> Lateness:
    """Record ``timestamp`` and nbgrader's late penalty of each notebook; return the lateness.

    As nbgrader's autograde: without a timestamp the submission keeps the one it had.
    """
    with Gradebook(db_url, course_id) as gb:
        if timestamp is not None:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        gb.db.commit()
    for name in notebooks:
        assign = AssignLatePenalties(config=config, log=_QUIET)
        resources = {"nbgrader": {"notebook": name, "assignment": assignment,
                                  "student": student, "db_url": db_url}}
        assign.preprocess(new_notebook(), resources)
    with Gradebook(db_url, course_id) as gb:
        sub = gb.find_submission(assignment, student)
        return Lateness(sub.timestamp, sub.duedate, float(sub.total_seconds_late),
                        float(sub.late_submission_penalty or 0.0))
