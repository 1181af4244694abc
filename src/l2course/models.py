"""The grader's data: limits, settings, statuses and results (no behaviour, no nbgrader).

Everything else builds on these: :class:`Limits` is defined here once and travels whole from the
command line (whose options and defaults are derived from its fields) down to the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

_SCALE = {"K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"100k"``, ``"1MiB"`` or a number of bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in _SCALE:
        return int(float(text[:-1]) * _SCALE[text[-1]])
    return int(text)


def format_size(size: int) -> str:
    """The shortest exact ``parse_size`` spelling: ``4294967296`` → ``"4G"``."""
    for suffix in ("G", "M", "K"):
        if size and size % _SCALE[suffix] == 0:
            return f"{size // _SCALE[suffix]}{suffix}"
    return str(size)


def _limit(default: int, flag: str, unit: str, text: str) -> Any:
    return field(default=default, metadata={"flag": flag, "unit": unit, "help": text})


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. Each field is one ``l2course`` option (``metadata["flag"]``)."""

    cell_timeout: int = _limit(60, "--cell-timeout", "s", "seconds per cell")
    notebook_timeout: int = _limit(300, "--notebook-timeout", "s", "seconds per notebook")
    memory: int = _limit(4 * 1024**3, "--memory", "bytes", "address-space limit")
    processes: int = _limit(64, "--processes", "count", "process limit inside the sandbox")
    output: int = _limit(1024**2, "--output-limit", "bytes", "bytes of output per cell")
    disk: int = _limit(256 * 1024**2, "--disk", "bytes",
                       "size of the kernel's working directory and of any file it writes")

    @classmethod
    def options(cls) -> list[tuple[str, str, str, str]]:
        """``(field, flag, unit, help)`` of every limit, in declaration order."""
        return [(f.name, f.metadata["flag"], f.metadata["unit"], f.metadata["help"])
                for f in fields(cls)]

    def default_text(self, name: str) -> str:
        """This instance's value of ``name`` as a user types it (``"4G"``, ``"60"``)."""
        value = getattr(self, name)
        unit = next(u for n, _, u, _ in self.options() if n == name)
        return format_size(value) if unit == "bytes" else str(value)


class Status(StrEnum):
    """What happened to a submission (the ``status`` column of grades.csv)."""

    GRADED = "graded"
    INVALID = "invalid"  # could not be read: never run
    ERROR = "error"  # the grader failed (not the student's fault)
    LIMIT = "limit"  # a limit stopped the student's code
    CRASHED = "crashed"  # the kernel died
    TAMPERED = "tampered"  # the integrity guard caught a replaced builtin or numpy function


#: Event kinds, most serious first: the first one present sets the submission's status.
EVENT_STATUS = (Status.TAMPERED, Status.CRASHED, Status.LIMIT)


@dataclass(frozen=True)
class Settings:
    """How to grade: the limits, the sandbox and guard switches, parallel workers."""

    limits: Limits = Limits()
    sandbox: bool = True
    guard: bool = True
    jobs: int = 1


@dataclass
class CellGrade:
    """One graded cell of one submission."""

    grade_id: str
    score: float | None
    max_score: float
    needs_manual_grade: bool
    message: str = ""


@dataclass
class Result:
    """The outcome of grading one submission."""

    student: str
    score: float = 0.0
    max_score: float = 0.0
    status: Status = Status.GRADED
    reason: str = ""
    cells: dict[str, list[CellGrade]] = field(default_factory=dict)
    comments: dict[str, dict[str, str | None]] = field(default_factory=dict)
    autograded: str | None = None
    feedback: str | None = None
    seconds: float = 0.0
    events: list[dict[str, str]] = field(default_factory=list)
    answer_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Rebuild a result sent as ``dataclasses.asdict`` across a pipe."""
        data = dict(data)
        cells = {nb: [CellGrade(**c) for c in grades] for nb, grades in data.pop("cells").items()}
        return cls(cells=cells, **{**data, "status": Status(data["status"])})

    @property
    def full_marks(self) -> bool:
        return (self.max_score > 0 and self.score >= self.max_score
                and self.status == Status.GRADED)
