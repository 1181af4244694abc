"""What a learner receives after grading (issue 18, items 1-3): lateness, privacy, the page.

* Late work: one ``l2course grade`` of the fixture course, with a due date set by nbgrader's own
  ``nbgrader db assignment add --duedate`` and ``timestamp.txt`` files as ``nbgrader submit``
  writes them, under ``LateSubmissionPlugin.penalty_method = "zero"``; the gradebook is compared
  with plain ``nbgrader autograde`` on the same late submission.
* Privacy: no hidden test code in any feedback page, the hidden tests' messages present, for
  the fixture (graded for real) and for every assignment in ``solutions/`` (its real tests, with
  each hidden test failing as IPython reports it, traceback and all).
* The page, in Debian's Chromium at 1280 px and 390×844: no request at all, maths typeset,
  no sideways scroll, the diagnosis fully visible, tests named by their part.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import REPO, tool_env
from l2course.course import Course
from l2course.feedback import GradedNotebook, render_feedback, strip_hidden
from l2course.maths import Typesetter
from l2course.models import CellGrade

FIXTURE = Path(__file__).resolve().parent / "grader" / "course"
CORRECT = Path(__file__).resolve().parent / "grader" / "corpus" / "submitted" / "correct"
DUE = "2026-03-02 00:00:00 UTC"
ON_TIME = "2026-03-01 12:00:00.000000 UTC"  # nbgrader submit's format
LATE = "2026-03-05 10:00:00.000000 UTC"  # 295200 s = 3 days 10 hours late
# Passes the visible tests ([1, 2] -> 5, [] -> 0), fails the hidden one (arange(4) -> 14).
HIDDEN_FAIL = "def sum_of_squares(w):\n    return float(sum(x * x for x in list(w)[:2]))\n"
HIDDEN_LINE = 'assert np.allclose(sum_of_squares(np.arange(4)), 14.0), "hidden"'
L2COURSE = [sys.executable, "-m", "l2course.cli"]


def page_text(page: str) -> str:
    """What a reader can find in the page: the text, tags and styles dropped."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _submit(subs: Path, student: str, source: str | None, stamp: str | None) -> None:
    folder = subs / student / "fixture"
    folder.mkdir(parents=True)
    nb = nbformat.read(CORRECT / "fixture" / "fixture.ipynb", as_version=4)
    if source is not None:
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "squares":
                cell.source = source
    nbformat.write(nb, folder / "fixture.ipynb")
    if stamp is not None:
        (folder / "timestamp.txt").write_text(stamp + "\n")


@pytest.fixture(scope="module")
def late_class(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fixture course graded by ``l2course grade`` with a due date and a 'zero' penalty."""
    root = tmp_path_factory.mktemp("late")
    course = root / "course"
    shutil.copytree(FIXTURE, course)
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    subs = root / "submitted"
    _submit(subs, "ontime", None, ON_TIME)
    _submit(subs, "late", None, LATE)
    _submit(subs, "hidden", HIDDEN_FAIL, None)
    _submit(subs, "badstamp", None, "the day after tomorrow-ish")
    env = tool_env()
    add = subprocess.run(["nbgrader", "db", "assignment", "add", "fixture", f"--duedate={DUE}"],
                         cwd=course, env=env, capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    proc = subprocess.run([*L2COURSE, "grade", "fixture", str(subs), "--jobs", "2",
                           "--cell-timeout", "10"], cwd=course, env=env, capture_output=True,
                          text=True, timeout=900)
    with open(course / "reports" / "fixture" / "grades.csv") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    return {"proc": proc, "course": course, "subs": subs, "csv": rows}


def _feedback(course: Path, student: str) -> str:
    return (course / "feedback" / student / "fixture" / "fixture.html").read_text()


def test_late_work_in_gradebook_summary_grades_and_feedback(late_class: dict) -> None:
    proc, course, rows = late_class["proc"], late_class["course"], late_class["csv"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2course-fixture") as gb:
        late = gb.find_submission("fixture", "late")
        assert late.timestamp == datetime(2026, 3, 5, 10, 0)
        assert late.total_seconds_late == 295200
        assert (late.score, late.late_submission_penalty) == (5, 5)  # the 'zero' method
        ontime = gb.find_submission("fixture", "ontime")
        assert ontime.timestamp == datetime(2026, 3, 1, 12, 0)
        assert (ontime.total_seconds_late, ontime.late_submission_penalty) == (0, 0)
        assert gb.find_submission("fixture", "hidden").timestamp is None
    assert rows["late"]["timestamp"].startswith("2026-03-05 10:00:00")
    assert float(rows["late"]["late_submission_penalty"]) == 5
    assert float(rows["late"]["score"]) == 0
    assert "late by 3 days 10 hours (late penalty 5 points)" in rows["late"]["reason"]
    assert rows["ontime"]["timestamp"].startswith("2026-03-01 12:00:00")
    assert "late" not in rows["ontime"]["reason"]
    summary = next(line for line in proc.stdout.splitlines() if line.startswith("late "))
    assert "late by 3 days 10 hours" in summary
    text = page_text(_feedback(course, "late"))
    assert "Late by 3 days 10 hours." in text and "Late penalty: 5 points" in text
    assert "Submitted 2026-03-05 10:00 UTC; due 2026-03-02 00:00 UTC." in text
    assert "Late by" not in page_text(_feedback(course, "ontime"))


def test_an_unreadable_timestamp_is_refused_with_the_reason(late_class: dict) -> None:
    row = late_class["csv"]["badstamp"]
    assert row["status"] == "invalid"
    assert "timestamp.txt is not a valid timestamp" in row["reason"]


def test_lateness_matches_plain_nbgrader(late_class: dict, tmp_path: Path) -> None:
    """``nbgrader autograde`` of the same late submission records the same timestamp,
    lateness and penalty."""
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    shutil.copy(late_class["course"] / "nbgrader_config.py", course)
    shutil.copytree(late_class["subs"] / "late", course / "submitted" / "late")
    env = tool_env()
    for args in (["db", "assignment", "add", "fixture", f"--duedate={DUE}"],
                 ["generate_assignment", "fixture"], ["autograde", "fixture", "--student", "late"]):
        proc = subprocess.run(["nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is 295200.0 seconds late" in proc.stderr
    ours = late_class["course"] / "gradebook.db"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2course-fixture") as theirs, \
            Gradebook(f"sqlite:///{ours}", "l2course-fixture") as mine:
        a, b = theirs.find_submission("fixture", "late"), mine.find_submission("fixture", "late")
        assert (a.timestamp, a.total_seconds_late, a.late_submission_penalty, a.score) == (
            b.timestamp, b.total_seconds_late, b.late_submission_penalty, b.score)


def test_graded_feedback_hides_hidden_code_and_gives_the_message(late_class: dict) -> None:
    course = late_class["course"]
    for page in (course / "feedback").rglob("*.html"):
        assert "HIDDEN TESTS" not in page.read_text(), page
        assert HIDDEN_LINE not in page_text(page.read_text()), page
        assert "np.arange(4)" not in page.read_text(), page
    text = page_text(_feedback(course, "hidden"))
    assert "AssertionError: hidden" in text  # the hidden test's message
    assert 'assert sum_of_squares([]) == 0.0, "the empty vector has no penalty"' in text  # visible
    assert "Score: 2 / 5" in text  # test_basic (2) passed, test_hidden (3) failed
    # nothing else a student receives holds it either: only the HTML page is in the folder
    assert sorted(p.name for p in (course / "feedback" / "hidden" / "fixture").iterdir()) == [
        "fixture.html"]


# --------------------------------------------------------------- every assignment of the course
ASSIGNMENTS = Course.load(REPO).assignments()


def ipython_failure(source: str, line: str, message: str) -> dict:
    """The error output IPython gives when ``line`` of a cell raises (context lines and all)."""
    lines = source.splitlines()
    at = lines.index(line)
    context = [f"{'---> ' if i == at else '     '}{i + 1} {lines[i]}"
               for i in range(max(0, at - 2), min(len(lines), at + 3))]
    tb = ["\x1b[0;31m---------------------------------------------------------------------------",
          "\x1b[0;31mAssertionError\x1b[0m                            Traceback (most recent call last)",
          "Cell \x1b[0;32mIn[7], line " + str(at + 1) + "\x1b[0m\n" + "\n".join(context),
          f"\x1b[0;31mAssertionError\x1b[0m: {message}"]
    return nbformat.v4.new_output("error", ename="AssertionError", evalue=message, traceback=tb)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_feedback_keeps_hidden_tests_private(assignment: str) -> None:
    """Each hidden test fails (its last hidden line raises, printing its code in the traceback):
    the page gives every message and no hidden line the release does not show anyway."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb",
                            as_version=4)
    shown = "\n".join(cell.source for cell in release.cells)  # what the learner has anyway
    grades, secret, messages = [], set(), []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        visible, hidden = strip_hidden(cell.source)
        code = [h for h in hidden if h.strip() and "HIDDEN TESTS" not in h]
        message = ""
        if code:
            message = (f"{meta['grade_id']} got the wrong answer: the mistake is named here; "
                       "reread chapter 2, 'A section'")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=code[-1] + "\n"),
                            ipython_failure(cell.source, code[-1], message)]
            secret |= {h.strip() for h in code if h.strip() not in shown and len(h.strip()) > 8}
            if meta.get("points"):  # a 0-point cell (helpers: translation tables) is no test
                messages.append(message)
        grades.append(CellGrade(meta["grade_id"], 0.0 if code else meta.get("points", 0),
                                meta.get("points", 0), False, f"AssertionError: {message}"
                                if code else ""))
    assert messages, f"{assignment} has no hidden tests"
    page = render_feedback(assignment, [GradedNotebook(assignment, nb, grades)])
    text = page_text(page)
    assert "HIDDEN TESTS" not in page
    leaked = [line for line in secret if line in text]
    assert not leaked, leaked[:3]
    for message in messages:
        assert text.count(message) >= 2  # in the results (diagnosis) and in the notebook


# --------------------------------------------------------------- the page in Chromium
CHROMIUM = Path("/usr/bin/chromium")
KEY = ("weight_decay_step(w=[1, -2], grad_data=[0.5, 0.5], lr=0.1, lam=0.5): you used a decay "
       "factor (1 - lr·lam), the ½ convention (penalty (lam/2)‖w‖²); this course's J has "
       "λ‖w‖², so the factor is (1 - 2·lr·lam). Reread chapter 2, 'Why a gradient step is called "
       "weight decay'.")


@pytest.fixture(scope="module")
def ex02_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ex02's feedback with a long diagnosis in a failed test (as the worker reports it)."""
    a = "ex02-mechanism"
    nb = nbformat.read(REPO / "solutions" / a / f"{a}.ipynb", as_version=4)
    grades = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            failed = meta["grade_id"] == "test_weight_decay_step"
            if failed:
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename="AssertionError", evalue=KEY,
                    traceback=["AssertionError" + " " * 200 + "Traceback", f"AssertionError: {KEY}"])]
            grades.append(CellGrade(meta["grade_id"], 0.0 if failed else meta.get("points", 0),
                                    meta.get("points", 0), False,
                                    f"AssertionError: {KEY}" if failed else ""))
    page = render_feedback(a, [GradedNotebook(a, nb, grades)], student="learner",
                           maths=Typesetter.find(REPO))
    path = tmp_path_factory.mktemp("page") / "feedback.html"
    path.write_text(page, encoding="utf-8")
    return path


LAYOUT_JS = """(key) => {
  const all = [...document.querySelectorAll('.diagnosis')];
  const el = all.find(e => e.textContent.includes(key));
  const r = el.getBoundingClientRect();
  const text = document.body.innerText;
  return {scrollWidth: document.scrollingElement.scrollWidth, width: innerWidth,
          keyRight: r.right, keyLeft: r.left, clipped: el.scrollWidth > el.clientWidth,
          mjx: document.querySelectorAll('mjx-container').length,
          rawTex: /\\$[^$\\n]*\\\\[a-zA-Z]+[^$\\n]*\\$/.test(text),
          headings: [...document.querySelectorAll('.result h3')].map(h => h.textContent),
          traceFolded: [...document.querySelectorAll('.error pre.traceback')].every(
              p => p.closest('details') !== null),
          fontsOk: [...document.fonts].filter(f => f.family.startsWith('MJX'))
              .every(f => f.status !== 'error')};
}"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["laptop", "phone"])
def test_feedback_page_in_chromium(ex02_page: Path, viewport: dict,
                                   tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if Typesetter.find(REPO) is None:
        pytest.skip("node is not on PATH: maths cannot be typeset on the grader's machine")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
            viewport=viewport, service_workers="block")
        try:
            requests: list[str] = []
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(ex02_page.as_uri(), wait_until="load")
            page.evaluate("() => document.fonts.ready")
            page.evaluate("() => document.querySelectorAll('details.nb').forEach(d => d.open = true)")
            page.evaluate("() => document.fonts.ready")
            v = page.evaluate(LAYOUT_JS, KEY[:60])
            from axe_playwright_python.sync_playwright import Axe

            audit = Axe().run(page, context={"exclude": [["mjx-container"]]})
            serious = [(a["id"], [n["target"] for n in a["nodes"][:3]])
                       for a in audit.response["violations"]
                       if a["impact"] in ("serious", "critical")]
            page.screenshot(path=str(REPO / "_build" / f"feedback-{viewport['width']}.png")
                            if (REPO / "_build").is_dir() else str(tmp_path / "shot.png"),
                            full_page=False)
        finally:
            context.close()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert v["scrollWidth"] <= v["width"], v
    assert 0 <= v["keyLeft"] and v["keyRight"] <= v["width"] and not v["clipped"], v
    assert v["mjx"] > 5 and not v["rawTex"] and v["fontsOk"], v
    assert v["traceFolded"], v
    assert not serious, serious
    assert "Part 2: one step of weight decay (2 points) — test_weight_decay_step" in v["headings"]


# --------------------------------------------------------------- every assignment, graded for real
def _secret_lines(assignment: str) -> set[str]:
    """Hidden test lines the release does not show anyway (longer than 8 characters)."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    release = (REPO / "exercises" / assignment / f"{assignment}.ipynb").read_text()
    shown = "\n".join(c.source for c in nbformat.reads(release, as_version=4).cells)
    return {line.strip() for cell in nb.cells if cell.cell_type == "code"
            for line in strip_hidden(cell.source)[1]
            if len(line.strip()) > 8 and line.strip() not in shown}


@pytest.mark.grading
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graded_feedback_of_every_assignment_is_private(assignment: str, tmp_path: Path) -> None:
    """``l2course grade`` of the solution and of a catalogued mistake (tests/test_exercises.py):
    no feedback file holds hidden test code; the wrong answer's page names its mistake."""
    from test_exercises import MISTAKES, filled, read_nb, with_mistake, write_nb

    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / assignment, course / "solutions" / assignment)
    solved = filled(assignment, read_nb(REPO / "exercises" / assignment / f"{assignment}.ipynb"))
    (old, new, phrase), = list(MISTAKES[assignment].values())[:1]
    subs = tmp_path / "submitted"
    for student, nb in (("solution", solved), ("wrong", with_mistake(solved, old, new))):
        write_nb(subs / student / assignment / f"{assignment}.ipynb", nb)
    proc = subprocess.run([*L2COURSE, "grade", assignment, str(subs), "--jobs", "2"], cwd=course,
                          env=tool_env(), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    secret = _secret_lines(assignment)
    pages = sorted((course / "feedback").rglob("*"))
    assert [p.relative_to(course / "feedback").as_posix() for p in pages if p.is_file()] == [
        f"{s}/{assignment}/{assignment}.html" for s in ("solution", "wrong")]
    for page in (p for p in pages if p.is_file()):
        raw = page.read_text()
        text = page_text(raw)
        assert "HIDDEN TESTS" not in raw, page
        leaked = [line for line in secret if line in text]
        assert not leaked, (page, leaked[:3])
    wrong = page_text((course / "feedback" / "wrong" / assignment / f"{assignment}.html")
                      .read_text())
    assert phrase in wrong.split("Your notebook, as graded")[0]  # in the results, up front


def test_learner_controlled_content_cannot_inject_markup() -> None:
    """Markdown, stream names and figure data come from the learner's notebook and kernel."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name='x"><script>alert(1)</script>', text="hi\n"),
        nbformat.v4.new_output("display_data", data={"image/png": 'AAAA" onerror="alert(1)'}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=\n",
                                                     "text/plain": 'a "figure"'}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# T\n<script>x</script> [a](javascript:alert(1))"),
                cell]
    page = render_feedback("a", [GradedNotebook("a", nb)])
    assert "<script" not in page and "onerror" not in page and "href=\"javascript" not in page
    assert page.count("<img") == 1 and 'alt="a &quot;figure&quot;"' in page
