"""The learner's private feedback page: one self-contained, offline HTML file per notebook.

Replaces nbgrader's ``generate_feedback`` (whose page loads MathJax 2 from a CDN, shows every
hidden test's code, cuts long messages off inside the traceback box and names every test
"Test cell"). The page built here:

* opens with the score, any lateness and the grader's notes, then one entry per graded test,
  named by its part (the heading above it) and its grade id, with the diagnosis in full;
* then shows the notebook. A test cell's hidden region (``### BEGIN HIDDEN TESTS`` …) is removed
  with nbgrader's own ``ClearHiddenTests``; a failure in it shows its message, never its code
  (no traceback: IPython prints the failing lines), and any traceback or printed line elsewhere
  that repeats a hidden line is masked. Visible tests show as written, tracebacks folded away
  in ``<details>``;
* is self-contained: inline CSS, maths typeset by the book's vendored MathJax
  (:mod:`l2course.maths`) with its fonts as ``data:`` URIs, figures as ``data:`` PNGs, and a
  Content-Security-Policy that forbids every network request and every script. The learner's
  markdown is rendered with raw HTML off; HTML outputs of their code are shown as text.

Cost: a few milliseconds per page once the release's maths is cached (see :mod:`l2course.maths`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from .lateness import Lateness, duration
from .maths import Typesetter
from .models import CellGrade

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
#: MyST roles of the book (``{tocref}`text <target>```, ``{tocnum}`ex01```).
ROLE = re.compile(r"\{([a-z]+)\}`([^`<]*?)\s*(?:<([^>`]*)>)?`")
#: What IPython puts before a source line in a traceback: "---> 12 ", "     13 ".
TB_LINE = re.compile(r"^(?:-*>)?\s*\d+\s?(.*)$")
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "base-uri 'none'; form-action 'none'")


@dataclass
class GradedNotebook:
    """One autograded notebook and its per-cell grades (as the gradebook has them)."""

    name: str
    nb: NotebookNode
    grades: list[CellGrade] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(g.score or 0.0 for g in self.grades)

    @property
    def max_score(self) -> float:
        return sum(g.max_score for g in self.grades)


def _nbgrader(cell: NotebookNode) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def _is_test(cell: NotebookNode) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def strip_hidden(source: str) -> tuple[str, list[str]]:
    """(the source without its hidden regions, the hidden lines) — via nbgrader's own code."""
    cell = NotebookNode(source=source, cell_type="code", metadata={})
    try:
        ClearHiddenTests()._remove_hidden_test_region(cell)
    except RuntimeError:  # unbalanced markers: hide the whole cell
        return "", source.splitlines()
    kept = set(cell.source.splitlines())
    return cell.source, [line for line in source.splitlines() if line not in kept]


def _math_rule(display: bool) -> Any:
    """Render a formula as a placeholder holding its TeX (typeset per page, all at once)."""
    def render(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tex = tokens[idx].content.strip().encode("utf-8").hex()
        return f"\x00M{'D' if display else 'I'}{tex}\x00"
    return render


MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").use(dollarmath_plugin)
for _rule, _display in (("math_inline", False), ("math_block", True),
                        ("math_block_label", True)):
    MARKDOWN.add_render_rule(_rule, _math_rule(_display))
PLACEHOLDER = re.compile(r"\x00M([DI])([0-9a-f]*)\x00")


@functools.lru_cache(maxsize=4096)
def markdown_html(source: str) -> str:
    """A markdown cell: raw HTML off, the book's roles as text, headings under the page's.

    Cached: the release's cells are the same in every learner's page."""
    out = MARKDOWN.render(plain_roles(source)).replace("<table>", '<table tabindex="0">')
    out = out.replace("<pre>", '<pre tabindex="0">')
    return re.sub(r"<(/?)h([1-6])>", lambda m: f"<{m[1]}h{min(6, int(m[2]) + 2)}>", out)


class Page:
    """The state of one page being rendered: the typesetter and the hidden lines to mask."""

    def __init__(self, maths: Typesetter | None) -> None:
        self.maths = maths
        self.hidden: set[str] = set()

    def _fill_maths(self, body: str) -> tuple[str, str]:
        """Replace the placeholders by typeset maths (or the TeX); return (body, maths CSS)."""
        found = [(bytes.fromhex(m[2]).decode("utf-8"), m[1] == "D")
                 for m in PLACEHOLDER.finditer(body)]
        formulas = list(dict.fromkeys(found))
        typeset = dict(zip(formulas, self.maths.typeset(formulas))) if self.maths else {}

        def put(match: re.Match[str]) -> str:
            tex, display = bytes.fromhex(match[2]).decode("utf-8"), match[1] == "D"
            markup = typeset.get((tex, display))
            tag = "div" if display else "span"
            if markup:
                focus = ' tabindex="0"' if display else ""  # it may scroll sideways
                return f'<{tag} class="maths{" display" if display else ""}"{focus}>{markup}</{tag}>'
            return f'<{tag} class="tex"><code>{html.escape(tex)}</code></{tag}>'

        body = PLACEHOLDER.sub(put, body)
        css = self.maths.stylesheet(body) if self.maths and any(typeset.values()) else ""
        return body, css

    # -- pieces ------------------------------------------------------------------------------
    def markdown(self, source: str) -> str:
        return markdown_html(source)

    def masked(self, text: str) -> str:
        """``text`` with every line that repeats a hidden test line masked."""
        out = []
        for line in ANSI.sub("", text).splitlines():
            code = TB_LINE.match(line)
            probe = (code.group(1) if code else line).strip()
            out.append("      (a hidden test line)" if probe and probe in self.hidden else line)
        return "\n".join(out)

    def outputs(self, cell: NotebookNode, hidden_cell: bool) -> str:
        parts = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                name = html.escape(str(out.get("name", "")))  # the kernel (student code) sets it
                parts.append(f'<pre class="out {name}" tabindex="0">'
                             f"{html.escape(self.masked(''.join(out.get('text', ''))))}</pre>")
            elif kind in ("execute_result", "display_data"):
                parts.append(self.rich(out.get("data", {})))
            elif kind == "error":
                parts.append(self.error(out, hidden_cell))
        return "".join(parts)

    def rich(self, data: dict[str, Any]) -> str:
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                raw = "".join(data[mime]) if isinstance(data[mime], list) else str(data[mime])
                raw = re.sub(r"\s", "", raw)
                try:  # student code sets it: only base64 goes into the attribute
                    base64.b64decode(raw, validate=True)
                except (binascii.Error, ValueError):
                    continue
                alt = html.escape("".join(data.get("text/plain", "")) or "a figure your code drew")
                return f'<img class="out" src="data:{mime};base64,{raw}" alt="{alt}">'
        text = data.get("text/plain")
        if text is None:
            return ""
        text = "".join(text) if isinstance(text, list) else str(text)
        return f'<pre class="out" tabindex="0">{html.escape(self.masked(text))}</pre>'

    def error(self, out: dict[str, Any], hidden_cell: bool) -> str:
        ename, evalue = str(out.get("ename", "Error")), str(out.get("evalue", "")).strip()
        message = f"{ename}: {evalue}" if evalue else ename
        text = f'<p class="error-message">{html.escape(message)}</p>'
        trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
        if hidden_cell or not trace.strip() or trace.strip() == message:
            return f'<div class="error">{text}</div>'
        return (f'<div class="error">{text}<details><summary>Traceback</summary>'
                f'<pre class="traceback" tabindex="0">{html.escape(self.masked(trace))}</pre></details></div>')


def plain_roles(source: str) -> str:
    """The book's cross-reference roles as plain text (the page has no book around it).

    ``{tocref}`chapter {number}, {title} <../../chapters/02_mechanism>``` reads "chapter 2,
    mechanism": the number is the target's leading number, as the book's file names give it.
    """
    def text(match: re.Match[str]) -> str:
        role, words, target = match.group(1), match.group(2).strip(), match.group(3) or ""
        if role not in ("tocref", "tocnum"):
            return words or target
        if not target and (role == "tocnum" or "{" not in words):
            words, target = ("{number}" if role == "tocnum" else ""), words
        target = Path(target).name
        number = re.search(r"\d+", target)
        title = re.sub(r"^(?:ex)?\d+[-_]", "", target).replace("_", " ").replace("-", " ")
        words = words or ("chapter {number}" if target else "")
        return (words.replace("{number}", str(int(number.group())) if number else "")
                .replace("{title}", title)) or target
    return ROLE.sub(text, source)


@functools.lru_cache(maxsize=4096)
def _code(source: str) -> str:
    return highlight(source, PythonLexer(), HtmlFormatter(nowrap=True)) if source.strip() else ""


def _part_names(nb: NotebookNode) -> dict[str, str]:
    """grade_id -> the heading of the part it belongs to (the nearest heading above it)."""
    names, part = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            headings = HEADING.findall(plain_roles(cell.source))
            if headings:
                part = headings[-1]
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id:
            names[grade_id] = part
    return names


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _verdict(grade: CellGrade) -> tuple[str, str]:
    if grade.score is None or grade.needs_manual_grade:
        return "manual", "to be graded by hand"
    if grade.score >= grade.max_score:
        return "pass", "passed"
    return "fail", "failed" if not grade.score else "partly passed"


def _results(page: Page, gnb: GradedNotebook) -> str:
    """The list of graded tests, each named by its part, with its diagnosis."""
    parts = _part_names(gnb.nb)
    items = []
    for grade in gnb.grades:
        if grade.max_score == 0 and not grade.message:
            continue
        verdict, word = _verdict(grade)
        part = parts.get(grade.grade_id, "")
        title = html.escape(part) + " — " if part else ""
        message = ""
        if grade.message and verdict != "pass":
            message = f'<p class="diagnosis">{html.escape(page.masked(grade.message))}</p>'
        items.append(
            f'<li class="result {verdict}"><h3>{title}<code>{html.escape(grade.grade_id)}</code></h3>'
            f'<p class="mark"><span class="badge">{word}</span> '
            f"{_fmt(grade.score)} / {_fmt(grade.max_score)} points · "
            f'<a href="#cell-{html.escape(grade.grade_id)}">the test</a></p>{message}</li>')
    return f'<ol class="results">{"".join(items)}</ol>'


def _cells(page: Page, gnb: GradedNotebook) -> str:
    """The notebook, cell by cell; hidden test code removed."""
    out = []
    for cell in gnb.nb.cells:
        if cell.cell_type == "markdown":
            out.append(f'<div class="cell md">{page.markdown(cell.source)}</div>')
            continue
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        source, hidden = (strip_hidden(cell.source) if _is_test(cell) else (cell.source, []))
        anchor = f' id="cell-{html.escape(meta["grade_id"])}"' if meta.get("grade_id") else ""
        label = ""
        if _is_test(cell):
            label = f'<p class="cell-label">Test <code>{html.escape(meta.get("grade_id", ""))}</code>'
            label += " (with hidden tests: their code is not shown)</p>" if hidden else "</p>"
        out.append(f'<div class="cell code"{anchor}>{label}'
                   f'<pre class="source" tabindex="0"><code>{_code(source)}</code></pre>'
                   f"{page.outputs(cell, bool(hidden))}</div>")
    return "".join(out)


def _header(assignment: str, student: str | None, notebooks: Sequence[GradedNotebook],
            lateness: Lateness | None, notes: Sequence[str]) -> str:
    score = sum(g.score for g in notebooks)
    max_score = sum(g.max_score for g in notebooks)
    lines = [f'<p class="total">Score: <strong>{score:g} / {max_score:g}</strong></p>']
    if lateness is not None and lateness.timestamp is not None:
        when = f"Submitted {lateness.timestamp:%Y-%m-%d %H:%M} UTC"
        if lateness.duedate is not None:
            when += f"; due {lateness.duedate:%Y-%m-%d %H:%M} UTC"
        lines.append(f'<p class="when">{when}.</p>')
    if lateness is not None and lateness.late:
        text = f"Late by {duration(lateness.seconds_late)}."
        if lateness.penalty:
            text += (f" Late penalty: {lateness.penalty:g} points; "
                     f"score after the penalty: {max(0.0, score - lateness.penalty):g}.")
        lines.append(f'<p class="late"><strong>{html.escape(text)}</strong></p>')
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        lines.append(f'<div class="notes"><p>Notes from the grader:</p><ul>{items}</ul></div>')
    who = f" for {html.escape(student)}" if student else ""
    titles = [HEADING.findall(plain_roles(c.source)) for g in notebooks[:1] for c in g.nb.cells
              if c.cell_type == "markdown"]
    title = next((t[0] for t in titles if t), "")
    subtitle = f'<p class="subtitle">{html.escape(title)}</p>' if title else ""
    return (f"<header><h1>Feedback{who}: <span class=\"aid\">{html.escape(assignment)}</span>"
            f"</h1>{subtitle}{''.join(lines)}</header>")


def render_feedback(assignment: str, notebooks: Sequence[GradedNotebook], *,
                    student: str | None = None, lateness: Lateness | None = None,
                    notes: Sequence[str] = (), maths: Typesetter | None = None) -> str:
    """The feedback page (one HTML document, no external resource) of graded ``notebooks``."""
    page = Page(maths)
    for gnb in notebooks:
        for cell in gnb.nb.cells:
            if _is_test(cell):
                page.hidden.update(line.strip() for line in strip_hidden(cell.source)[1]
                                   if line.strip())
    sections = []
    for gnb in notebooks:
        heading = f"<h2>{html.escape(gnb.name)}.ipynb</h2>" if len(notebooks) > 1 else ""
        sections.append(
            f'<section class="notebook">{heading}'
            f'<h2 class="sub">Your results, test by test</h2>{_results(page, gnb)}'
            f'<details class="nb"><summary>Your notebook, as graded</summary>'
            f"{_cells(page, gnb)}</details></section>")
    body, maths_css = page._fill_maths("".join(sections))
    head = _header(assignment, student, notebooks, lateness, notes)
    title = f"{assignment}: feedback" + (f" for {student}" if student else "")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{STYLE}{_pygments_css()}"
            f"{maths_css}</style></head><body><main>{head}{body}</main></body></html>\n")


def write_feedback(path: Path, page: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".source")


STYLE = """
:root { color-scheme: light; --fg: #1a1a1a; --muted: #4a4a4a; --line: #d0d0d0;
  --pass: #1b6e3a; --fail: #a3161b; --manual: #7a4b00; --bg-code: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 1rem/1.6 system-ui, -apple-system,
  "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem clamp(0.75rem, 4vw, 2rem) 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 0.75rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 1.75rem 0 0.5rem; }
h3 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
p, li { overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 0.9em; }
.subtitle { margin: -0.25rem 0 0.5rem; color: var(--muted); font-size: 1.1rem; }
.total { font-size: 1.2rem; margin: 0.25rem 0; }
.late { color: var(--fail); }
.notes { border-left: 4px solid var(--manual); padding: 0.25rem 0.75rem; background: #fff8e6; }
.results { list-style: none; padding: 0; margin: 0; }
.result { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 6px;
  padding: 0.6rem 0.8rem; margin: 0 0 0.75rem; }
.result.pass { border-left-color: var(--pass); }
.result.fail { border-left-color: var(--fail); }
.result.manual { border-left-color: var(--manual); }
.mark { margin: 0.25rem 0; color: var(--muted); }
.badge { font-weight: 600; }
.pass .badge { color: var(--pass); }
.fail .badge { color: var(--fail); }
.manual .badge { color: var(--manual); }
.diagnosis, .error-message { white-space: pre-wrap; margin: 0.4rem 0 0; font-weight: 500; }
details.nb { margin-top: 2rem; }
details.nb > summary { font-size: 1.2rem; font-weight: 600; cursor: pointer; }
.cell { margin: 1rem 0; }
.cell-label { margin: 0 0 0.25rem; font-weight: 600; }
pre { background: var(--bg-code); border: 1px solid var(--line); border-radius: 4px;
  padding: 0.5rem 0.75rem; overflow-x: auto; margin: 0.25rem 0; }
pre.out { background: #fff; }
.error { border-left: 4px solid var(--fail); padding: 0.25rem 0.75rem; margin: 0.25rem 0;
  background: #fdf0f0; }
.error details summary { cursor: pointer; color: var(--muted); }
img.out { max-width: 100%; height: auto; }
.md table { border-collapse: collapse; display: block; overflow-x: auto; }
.md th, .md td { border: 1px solid var(--line); padding: 0.25rem 0.5rem; }
.maths.display { display: block; overflow-x: auto; overflow-y: hidden; margin: 0.5rem 0; }
.tex code { background: var(--bg-code); }
a { color: #0b57d0; }
"""
