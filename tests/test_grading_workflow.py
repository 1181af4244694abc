"""The instructor's round trip around ``l2course grade``: release, report, export (issue 18).

One ``l2course grade`` run over four submissions of the fixture course (correct, partial, blank,
invalid JSON) feeds the class report, the grades file and the LMS exports; the release tests
use their own copies of the course. Everything runs the real command line, gradebook and
nbgrader; the report is opened in Debian's Chromium at a phone's width.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from conftest import BIN, REPO, tool_env
from l2course.classdata import mistake_key
from l2course.models import CellGrade, Result
from l2course.report import reason_for, summary_table

pytestmark = pytest.mark.grading

HERE = Path(__file__).resolve().parent / "grader"
STUDENTS = ("correct", "partial", "blank", "invalid-json")
L2COURSE = [sys.executable, "-m", "l2course.cli"]
CHROMIUM = Path("/usr/bin/chromium")


def run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*L2COURSE, *args], cwd=cwd, capture_output=True, text=True,
                          env=env or tool_env(), timeout=900)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course after ``l2course grade fixture`` of four submissions."""
    root = tmp_path_factory.mktemp("workflow")
    course = root / "course"
    shutil.copytree(HERE / "course", course)
    for student in STUDENTS:
        shutil.copytree(HERE / "corpus" / "submitted" / student, root / "submitted" / student)
    proc = run(["grade", "fixture", str(root / "submitted"), "--jobs", "2",
                "--cell-timeout", "10"], cwd=course)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reports/fixture/index.html" in proc.stdout  # the summary says where the report is
    return course


# -- item 4: the class report ----------------------------------------------------------------


def test_items_csv_per_graded_cell(course: Path) -> None:
    """Points, mean, pass rate and the named mistakes of each graded cell."""
    items = rows(course / "reports" / "fixture" / "items.csv")
    cells = {r["cell"]: r for r in items}
    assert list(cells) == ["test_basic", "test_hidden"]  # notebook order; 0-point cells left out
    assert cells["test_basic"]["max_points"] == "2" and cells["test_hidden"]["max_points"] == "3"
    # test_basic: correct and partial pass; test_hidden: only correct
    assert float(cells["test_basic"]["pass_rate"]) == 0.5
    assert float(cells["test_hidden"]["pass_rate"]) == 0.25
    assert float(cells["test_hidden"]["mean"]) == 0.75
    counts = {(r["cell"], r["mistake"]): int(r["count"]) for r in items}
    assert counts[("test_hidden", "the empty vector has no penalty")] == 1  # partial's mistake
    assert counts[("test_hidden", "NotImplementedError")] == 1  # blank
    assert counts[("test_basic", "not graded: the submission could not be run")] == 1


def test_report_page_is_offline_and_described(course: Path) -> None:
    page = (course / "reports" / "fixture" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page), "the report loads from the web"
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) == 3  # scores, pass rate, mistakes (no lateness recorded yet)
    for img in images:
        assert 'src="data:image/png;base64,' in img
        alt = re.search(r'alt="([^"]+)"', img)
        assert alt and len(alt.group(1)) > 40, img[:200]
    assert "the empty vector has no penalty" in page
    assert "lateness is unknown" in page
    assert 'name="viewport"' in page


def test_report_reads_lateness_from_the_gradebook(course: Path, tmp_path: Path) -> None:
    """Due date and submission timestamps, as nbgrader records them, appear in the report."""
    late = tmp_path / "course"
    shutil.copytree(course, late)
    due = datetime(2026, 1, 10, 12, 0)
    with Gradebook(f"sqlite:///{late / 'gradebook.db'}", "l2course-fixture") as gb:
        gb.update_or_create_assignment("fixture", duedate=due)
        for i, student in enumerate(STUDENTS):
            sub = gb.find_submission("fixture", student)
            sub.timestamp = due + timedelta(hours=30 * (i - 1))  # two late, one early, one on time
        gb.db.commit()
    proc = run(["report", "fixture"], cwd=late)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (late / "reports" / "fixture" / "index.html").read_text(encoding="utf-8")
    assert "2 of 4 submissions were late" in page
    assert len(re.findall(r"<img\b", page)) == 4
    assert "from 30.0 to 60.0 hours after the due date" in page  # the lateness figure's alt text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_report_reads_on_a_phone(course: Path, tmp_path: Path) -> None:
    """At 390 px nothing sticks out sideways, and the page asks for nothing from the network."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
            viewport={"width": 390, "height": 844})
        try:
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((course / "reports" / "fixture" / "index.html").as_uri())
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            widest_img = page.evaluate(
                "Math.max(...[...document.images].map(i => i.getBoundingClientRect().right))")
            broken = page.evaluate("[...document.images].filter(i => !i.naturalWidth).length")
        finally:
            context.close()
    assert width <= 390 and widest_img <= 390
    assert broken == 0
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_mistakes_differing_only_in_numbers_are_one_mistake() -> None:
    a = ("AssertionError: grad_w (random X of shape (7, 3)): expected [1.5, 2.25], got "
         "[0.75, 1.125]. This looks like the ½ convention (lam/2). See chapter 2.")
    b = ("AssertionError: grad_w (random X of shape (9, 4)): expected [-3e-05, 2], got "
         "[1, 1]. This looks like the ½ convention (lam/2). See chapter 2.")
    assert mistake_key(a) == mistake_key(b) == (
        "grad_w (random X of shape (#, #)): looks like the ½ convention (lam/2)")
    assert mistake_key("AssertionError: b: expected 0.5, got 1.25. See x.") == mistake_key(
        "AssertionError: b: expected 2, got 3. See x.") == "b: expected #, got #."
    assert mistake_key("NameError: name 'w' is not defined") == "NameError: name 'w' is not defined"


# -- the grades file: our own name, per-question columns, whole words ------------------------


def test_grades_file_has_a_column_per_question(course: Path) -> None:
    grades = {r["student_id"]: r for r in rows(course / "reports" / "fixture" / "grades.csv")}
    assert set(grades) == set(STUDENTS)
    assert (grades["partial"]["test_basic"], grades["partial"]["test_hidden"]) == ("2.0", "0.0")
    assert (grades["correct"]["test_basic"], grades["correct"]["test_hidden"]) == ("2.0", "3.0")
    assert grades["invalid-json"]["status"] == "invalid"


def test_nbgrader_export_does_not_overwrite_the_grades_file(course: Path, tmp_path: Path) -> None:
    copy = tmp_path / "course"
    shutil.copytree(course, copy)
    ours = copy / "reports" / "fixture" / "grades.csv"
    before = ours.read_bytes()
    proc = subprocess.run([str(BIN / "nbgrader"), "export"], cwd=copy, capture_output=True,
                          text=True, env=tool_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (copy / "grades.csv").exists()  # nbgrader's own file
    assert ours.read_bytes() == before


def test_reasons_are_never_cut_mid_word() -> None:
    words = ("the gradient of the penalised objective has the wrong sign; " * 6).strip()
    result = Result("s", cells={"nb": [CellGrade("test_x", 0.0, 2.0, False,
                                                 f"AssertionError: {words}")]})
    reason = reason_for(result, [])
    assert reason.endswith("…") and len(reason) < len(words)
    kept = reason.removeprefix("test_x: AssertionError: ").removesuffix("…")
    assert words.startswith(kept) and words[len(kept)] in " ;", kept[-20:]
    result.reason, result.max_score = reason, 2.0
    line = summary_table([result], width=50).splitlines()[-1]
    shown = line.split("  ")[-1]
    assert shown.endswith("…") and reason.startswith(shown[:-1])
    assert reason[len(shown) - 1] in " ;:", shown


# -- item 5: export for an LMS ---------------------------------------------------------------


@pytest.fixture(scope="module")
def named(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The graded course with names and emails in the gradebook (as ``nbgrader db student``)."""
    copy = tmp_path_factory.mktemp("named") / "course"
    shutil.copytree(course, copy)
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}", "l2course-fixture") as gb:
        for student in STUDENTS:
            gb.update_or_create_student(student, first_name=student.title(), last_name="Noether",
                                        email=f"{student}@uni.example", lms_user_id=None)
        gb.update_or_create_student("correct", lms_user_id="4242")
    return copy


def test_export_canvas(named: Path) -> None:
    out = named / "canvas.csv"
    proc = run(["export", "fixture", "--format", "canvas", "-o", str(out)], cwd=named)
    assert proc.returncode == 0, proc.stderr
    lines = list(csv.reader(out.open(newline="", encoding="utf-8")))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "fixture"]
    assert lines[1][0] == "Points Possible" and lines[1][-1] == "5"
    by_login = {row[3]: row for row in lines[2:]}
    assert by_login["correct"] == ["Noether, Correct", "4242", "", "correct", "", "5"]
    assert by_login["partial"][-1] == "2" and by_login["blank"][-1] == "0"


def test_export_moodle_by_email_and_username(named: Path) -> None:
    out = named / "moodle.csv"
    proc = run(["export", "fixture", "-f", "moodle", "-o", str(out)], cwd=named)
    assert proc.returncode == 0, proc.stderr
    table = rows(out)
    assert list(table[0]) == ["First name", "Last name", "Email address", "fixture"]
    assert {r["Email address"]: r["fixture"] for r in table}["partial@uni.example"] == "2"
    proc = run(["export", "fixture", "-f", "moodle", "--key", "username", "-o", str(out)],
               cwd=named)
    assert {r["Username"]: r["fixture"] for r in rows(out)}["correct"] == "5"


def test_export_csv_and_a_clear_error(course: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades.csv"
    proc = run(["export", "fixture", "-f", "csv", "-o", str(out)], cwd=course)
    assert proc.returncode == 0, proc.stderr
    assert {r["student_id"]: r["score"] for r in rows(out)}["partial"] == "2"
    # no emails in this gradebook: a Moodle export keyed by email says so and writes nothing
    bad = tmp_path / "moodle.csv"
    proc = run(["export", "fixture", "-f", "moodle", "--key", "email", "-o", str(bad)],
               cwd=course)
    assert proc.returncode == 2 and "--key username" in proc.stderr
    assert not bad.exists()
    proc = run(["export", "nope", "-f", "csv", "-o", str(bad)], cwd=course)
    assert proc.returncode == 2 and "no assignment 'nope'" in proc.stderr


# -- item 6: an atomic release ---------------------------------------------------------------


def _fixture_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(HERE / "course", course)
    return course


def _bare_env() -> dict[str, str]:
    """No venv on PATH (not activated), as an instructor's fresh terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    return env


def test_release_works_without_the_venv_on_path(tmp_path: Path) -> None:
    course = _fixture_course(tmp_path)
    proc = subprocess.run([str(BIN / "l2course"), "release", "fixture"], cwd=course,
                          capture_output=True, text=True, env=_bare_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    released = nbformat.read(course / "release" / "fixture" / "fixture.ipynb", as_version=4)
    assert "BEGIN SOLUTION" not in str(released) and "HIDDEN TESTS" not in str(released)
    assert sorted(p.name for p in (course / "release").iterdir()) == ["fixture"]  # no leftovers


def test_release_matches_nbgrader_and_the_committed_exercise(tmp_path: Path) -> None:
    """``l2course release`` writes exactly what ``nbgrader generate_assignment`` wrote."""
    a = "ex01-penalty"
    course = tmp_path / "course"
    shutil.copytree(REPO / "solutions" / a, course / "solutions" / a)
    shutil.copy(REPO / "nbgrader_config.py", course)
    proc = run(["release", a], cwd=course)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = course / "exercises" / a / f"{a}.ipynb"
    assert got.read_bytes() == (REPO / "exercises" / a / f"{a}.ipynb").read_bytes()


def test_release_that_cannot_modify_keeps_the_committed_notebook(tmp_path: Path) -> None:
    """nbgrader refuses to change an assignment with submissions: nothing is deleted."""
    course = _fixture_course(tmp_path)
    assert run(["release", "fixture"], cwd=course).returncode == 0
    committed = course / "release" / "fixture" / "fixture.ipynb"
    before = committed.read_bytes()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2course-fixture") as gb:
        gb.update_or_create_student("s1")
        gb.update_or_create_submission("fixture", "s1")
    # a second notebook: nbgrader cannot add it while there are submissions
    shutil.copy(course / "source" / "fixture" / "fixture.ipynb",
                course / "source" / "fixture" / "extra.ipynb")
    proc = run(["release", "fixture"], cwd=course)
    assert proc.returncode == 1
    assert "Cannot modify existing assignment" in proc.stderr
    assert "nothing was replaced" in proc.stderr
    assert committed.read_bytes() == before
    assert sorted(p.name for p in (course / "release" / "fixture").iterdir()) == ["fixture.ipynb"]
    assert sorted(p.name for p in (course / "release").iterdir()) == ["fixture"]


def test_release_without_alembic_keeps_the_committed_notebook(tmp_path: Path) -> None:
    """The real nbgrader call to ``alembic`` failing (not on PATH) deletes nothing.

    ``l2course release`` itself never needs the executable (it reads the schema version
    in-process); here that is switched off to provoke nbgrader's failure.
    """
    course = _fixture_course(tmp_path)
    release = course / "release" / "fixture"
    release.mkdir(parents=True)
    committed = release / "fixture.ipynb"
    committed.write_text('{"committed": true}')
    script = ("import sys; from pathlib import Path; import l2course.release as r\n"
              "from l2course.course import Course\n"
              "r.fast_alembic_version = lambda: None\n"
              "try:\n    r.release(Course.load(Path('.')), 'fixture')\n"
              "except r.ReleaseError as exc:\n    print(exc); sys.exit(1)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=course, capture_output=True,
                          text=True, env=_bare_env(), timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "No such file or directory: 'alembic'" in proc.stdout
    assert committed.read_text() == '{"committed": true}'
    assert not (course / "gradebook.db").exists()  # nor a half-made gradebook left behind
    assert sorted(p.name for p in release.iterdir()) == ["fixture.ipynb"]


# -- item 8: quiet tools ---------------------------------------------------------------------

NOISE = ("is not absolute, standardizing it", "without encryption", "will overwrite data")


def test_nbgrader_commands_are_quiet(tmp_path: Path) -> None:
    """With the course's nbgrader_config.py, generate and autograde print no setup noise."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(HERE / "course" / "source" / "fixture", course / "solutions" / "fixture")
    submitted = course / "submitted" / "s1" / "fixture"
    submitted.mkdir(parents=True)
    shutil.copy(HERE / "corpus" / "submitted" / "correct" / "fixture" / "fixture.ipynb", submitted)
    log = ""
    for command in (["generate_assignment", "fixture"], ["autograde", "fixture"]):
        proc = subprocess.run([str(BIN / "nbgrader"), *command], cwd=course, capture_output=True,
                              text=True, env=tool_env(), timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        log += proc.stdout + proc.stderr
    assert (course / "autograded" / "s1" / "fixture" / "fixture.ipynb").exists()
    for noise in NOISE:
        assert noise not in log, log


def test_grader_kernels_use_ipc_sockets() -> None:
    """Sandboxed or not, the grader's kernels talk over private ipc sockets, never TCP."""
    from l2course.kernel import SandboxKernelManager

    for enabled, uid in ((False, 0), (True, 0)):
        km = SandboxKernelManager(kernel_name="python3", enabled=enabled, sandbox_uid=uid)
        try:
            assert km.transport == "ipc"
            assert Path(km.ip).parent == Path(km.connection_file).parent
            assert Path(km.ip).is_absolute()
        finally:
            del km
