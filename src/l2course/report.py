"""What the grader prints: a progress bar, the summary table, the self-check report."""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path
from typing import TextIO

from .models import EVENT_STATUS, Result, Status
from .text import shorten


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int = 0, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.start(total)

    def start(self, total: int) -> None:
        """Count ``total`` submissions from now."""
        self.total = total
        self.done = 0
        self.started = time.perf_counter()

    def update(self, result: Result) -> None:
        self.done += 1
        width = 30
        filled = int(width * self.done / max(1, self.total))
        elapsed = time.perf_counter() - self.started
        bar = "#" * filled + "-" * (width - filled)
        line = (f"grading [{bar}] {self.done}/{self.total}  {elapsed:5.1f}s  "
                f"{result.student}: {result.status}")
        if self.tty:
            self.stream.write("\r" + line[:100].ljust(100))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _fmt(value: float) -> str:
    return f"{value:g}"


def summary_table(results: list[Result], width: int = 72) -> str:
    """Plain-text table: student, score, max, status, reason."""
    rows = [(r.student, _fmt(r.score), _fmt(r.max_score), r.status, r.reason or "-")
            for r in sorted(results, key=lambda r: r.student)]
    heads = ("student", "score", "max", "status", "reason")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(heads[:4])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads[:4], widths)) + "  reason"]
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    for row in rows:
        reason = shorten(row[4], width)
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                 row[3].ljust(widths[3])]
        lines.append("  ".join(cells) + "  " + reason)
    return "\n".join(lines)


def event_texts(result: Result) -> list[str]:
    """The grader's events (limits, crashes, tampering) as "kind: message", each once, in order."""
    return list(dict.fromkeys(f"{event['kind']}: {event['message']}" for event in result.events))


def reason_for(result: Result, notes: list[str]) -> str:
    """A short reason: grader notes, limit events, then the first message of each lost cell."""
    parts: list[str] = [*notes, *event_texts(result)]
    parts.extend(result.answer_errors)  # the cause (e.g. OSError) before its NameErrors
    for grades in result.cells.values():
        for cell in grades:
            if cell.score is not None and cell.score < cell.max_score and cell.message:
                first = cell.message.splitlines()[0]
                parts.append(f"{cell.grade_id}: {shorten(first, 160)}")
    if result.reason:
        parts.insert(0, result.reason)
    return "; ".join(parts)


def status_for(result: Result) -> Status:
    """The most serious event's status (tampered, crashed, limit), else the result's own."""
    kinds = {event["kind"] for event in result.events}
    return next((status for status in EVENT_STATUS if status in kinds), result.status)


def rejected_feedback(path: Path, student: str, assignment: str, reason: str) -> None:
    """An HTML feedback page for a submission that could not be graded at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(assignment)}: feedback for {html.escape(student)}</title></head>"
        f"<body><h1>{html.escape(assignment)}</h1>"
        f"<p>Your submission could not be graded: <strong>{html.escape(reason)}</strong>.</p>"
        "<p>Score: 0. Please contact your instructor.</p></body></html>\n"
    )


def check_report(result: Result, stream: TextIO = sys.stdout) -> None:
    """Per-cell scores and diagnostics for ``l2course check``."""
    for nb, grades in result.cells.items():
        stream.write(f"{nb}\n")
        for cell in grades:
            if cell.max_score == 0 and not cell.message:
                continue
            score = "manual" if cell.score is None else _fmt(cell.score)
            mark = "ok " if cell.score is not None and cell.score >= cell.max_score else "-- "
            if cell.score is None:
                mark = "?  "
            line = f"  {mark}{cell.grade_id:<32} {score:>6} / {_fmt(cell.max_score)}"
            stream.write(line + "\n")
            if cell.message:
                # The full diagnostic, indented under its cell (it names the likely mistake).
                for text in cell.message.splitlines():
                    stream.write(f"       {text}\n")
    for error in result.answer_errors:
        stream.write(f"  !! error in your answer cell {error}\n")
    for event in result.events:
        stream.write(f"  !! {event['kind']}: {event['message']}\n")
    stream.write(f"total: {_fmt(result.score)} / {_fmt(result.max_score)}")
    if result.reason and result.status != Status.GRADED:
        stream.write(f"  ({result.status}: {result.reason})")
    stream.write("\n")
