"""The self-check server's pages: the upload form, the private feedback, the error page.

Every page is one self-contained HTML string (inline CSS, no script, no font or CDN), readable
on a 360 px phone. The feedback shows each graded cell's result, points and message — never the
notebook's test code: it is built from :class:`~l2course.models.CellGrade` fields only. When the
grader provides its own private page (``Checked.feedback_html``) the server sends that instead.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from .models import Result, Status

STYLE = """
:root { color-scheme: light dark; --ok: #1b7837; --bad: #b2182b; --muted: #666; }
@media (prefers-color-scheme: dark) { :root { --ok: #5aae61; --bad: #f4a582; --muted: #aaa; } }
* { box-sizing: border-box; }
body { font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 44rem; padding: 1rem; overflow-wrap: anywhere; }
h1 { font-size: 1.4rem; line-height: 1.25; }
label { display: block; font-weight: 600; margin-top: 1rem; }
input, select, button { font: inherit; width: 100%; min-height: 44px; margin-top: .25rem; }
button { font-weight: 600; cursor: pointer; }
.hint, .meta { color: var(--muted); font-size: .9rem; }
.score { font-size: 1.3rem; font-weight: 700; }
.cells { list-style: none; padding: 0; }
.cells li { border-left: 4px solid var(--muted); padding: .25rem .75rem; margin: .75rem 0; }
.cells li.pass { border-color: var(--ok); }
.cells li.fail { border-color: var(--bad); }
.verdict { font-weight: 700; }
pre { white-space: pre-wrap; margin: .25rem 0 0; font-size: .9rem; }
.error { border-left: 4px solid var(--bad); padding: .25rem .75rem; }
"""

#: Our pages: no script, nothing from elsewhere, forms post only here.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


#: What a status other than ``graded`` means for the learner (details follow per cell).
STOPPED = {
    Status.CRASHED: "your code made the Python kernel die (os._exit, a fatal signal or "
                    "running out of memory); the cells after it could not run.",
    Status.LIMIT: "a limit stopped your code (time per cell, memory, processes or output); "
                  "look for an endless loop or a huge array.",
    Status.TAMPERED: "your code replaced a function the tests rely on; restore it.",
}


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def upload_page(assignments: list[str], *, tokens: bool, selected: str = "", token: str = "",
                max_upload: int, rate: int) -> str:
    """The form: exercise, token (or an optional name), notebook file."""
    options = "".join(
        f"<option value=\"{escape(a)}\"{' selected' if a == selected else ''}>{escape(a)}"
        "</option>" for a in assignments)
    if tokens:
        who = ("<label for=\"token\">Your token</label>"
               f"<input id=\"token\" name=\"token\" value=\"{escape(token)}\" required "
               "autocomplete=\"off\" spellcheck=\"false\">"
               "<p class=\"hint\">Your instructor gave it to you; it counts your attempts.</p>")
    else:
        who = ("<label for=\"learner\">Your name (optional)</label>"
               "<input id=\"learner\" name=\"learner\" autocomplete=\"username\" "
               "pattern=\"[A-Za-z0-9][A-Za-z0-9_.@+\\-]{0,63}\">")
    body = (
        "<h1>Check your exercise notebook</h1>"
        "<p>Upload your saved notebook (<code>.ipynb</code>). It is graded here, hidden tests "
        "included, in a sandbox; within seconds you see every test's result and message — "
        "never the tests' code. Nothing is recorded as a grade.</p>"
        "<form method=\"post\" action=\"/check\" enctype=\"multipart/form-data\">"
        "<label for=\"assignment\">Exercise</label>"
        f"<select id=\"assignment\" name=\"assignment\" required>{options}</select>"
        f"{who}"
        "<label for=\"notebook\">Notebook file</label>"
        "<input id=\"notebook\" name=\"notebook\" type=\"file\" required "
        "accept=\".ipynb,application/x-ipynb+json,application/json\">"
        f"<p class=\"hint\">At most {max_upload / 1024**2:g} MB; at most {rate} checks a "
        "minute.</p>"
        "<button type=\"submit\">Check my notebook</button>"
        "<p class=\"hint\">A check takes a few seconds, longer when many learners check at "
        "once: keep this page open.</p></form>")
    return _page("Check your exercise notebook", body)


def _verdict(score: float | None, max_score: float) -> tuple[str, str]:
    if score is None:
        return "wait", "needs a person"
    return ("pass", "passed") if score >= max_score else ("fail", "failed")


def feedback_page(assignment: str, checked: Any, attempt: int) -> str:
    """The private feedback of one check, from the cells' results and messages only."""
    result: Result = checked.result
    parts = [f"<h1>{escape(assignment)}: your self-check</h1>",
             f"<p class=\"score\">Score: {result.score:g} / {result.max_score:g}</p>"]
    if result.status != Status.GRADED:
        why = STOPPED.get(result.status, result.reason)
        parts.append(f"<p class=\"error\">Stopped ({escape(str(result.status))}): "
                     f"{escape(why)}</p>")
    for note in checked.notes:
        parts.append(f"<p class=\"meta\">Note: {escape(note)}</p>")
    items = []
    for grades in result.cells.values():
        for cell in grades:
            if cell.max_score == 0 and not cell.message:
                continue
            kind, verdict = _verdict(cell.score, cell.max_score)
            points = "—" if cell.score is None else f"{cell.score:g}"
            message = f"<pre>{escape(cell.message)}</pre>" if cell.message else ""
            items.append(f"<li class=\"{kind}\"><span class=\"verdict\">{verdict}</span> "
                         f"<code>{escape(cell.grade_id)}</code> {points} / "
                         f"{cell.max_score:g}{message}</li>")
    parts.append(f"<ul class=\"cells\">{''.join(items)}</ul>")
    for error in result.answer_errors:
        parts.append(f"<p class=\"error\">Error in your answer cell {escape(error)}</p>")
    for event in result.events:
        parts.append(f"<p class=\"error\">{escape(event['kind'])}: "
                     f"{escape(event['message'])}</p>")
    parts.append(f"<p class=\"meta\">Attempt {attempt} at this exercise. Not recorded as a "
                 "grade.</p>")
    parts.append(f"<p><a href=\"/?assignment={escape(assignment)}\">Check another notebook"
                 "</a></p>")
    return _page(f"{assignment}: your self-check", "".join(parts))


def with_back_link(page: str, assignment: str, attempt: int) -> str:
    """The grader's own private page with a line on top: attempt number, "check another"."""
    bar = (f"<nav class=\"l2course-check\" style=\"font: 1rem/1.5 system-ui, sans-serif; "
           f"padding: .5rem 1rem\"><a href=\"/?assignment={escape(assignment)}\">Check "
           f"another notebook</a> · attempt {attempt}, not recorded as a grade</nav>")
    match = re.search(r"<body[^>]*>", page, flags=re.IGNORECASE)
    if match is None:
        return bar + page
    return page[:match.end()] + bar + page[match.end():]


def error_page(status: int, message: str, assignment: str = "") -> str:
    back = f"/?assignment={escape(assignment)}" if assignment else "/"
    body = (f"<h1>Cannot check this upload</h1><p class=\"error\" role=\"alert\">"
            f"{escape(message)}</p><p class=\"meta\">HTTP {status}</p>"
            f"<p><a href=\"{back}\">Back to the upload page</a></p>")
    return _page("Cannot check this upload", body)


def feedback_json(assignment: str, learner: str, checked: Any, attempt: int,
                  seconds: float) -> dict[str, Any]:
    """The JSON answer: score, max score, per-cell results and messages (no test code)."""
    result: Result = checked.result
    return {
        "assignment": assignment, "learner": learner, "attempt": attempt,
        "seconds": round(seconds, 2),
        "status": str(result.status), "reason": result.reason,
        "score": result.score, "max_score": result.max_score,
        "full_marks": result.full_marks, "notes": list(checked.notes),
        "cells": [{"notebook": nb, "grade_id": c.grade_id, "score": c.score,
                   "max_score": c.max_score,
                   "passed": c.score is not None and c.score >= c.max_score,
                   "message": c.message}
                  for nb, grades in result.cells.items() for c in grades],
        "answer_errors": list(result.answer_errors),
        "events": list(result.events),
    }
