"""The sandboxed grader (``l2course grade`` / ``l2course check``) against a hostile corpus.

All 25 submissions of ``tests/grader/corpus`` (correct, wrong, blank, broken and malicious) are
graded in ONE run of ``l2course grade`` from a zip, through the real nbgrader gradebook, so the
tests also prove that one bad submission does not disturb the others. Expected outcomes live in
``tests/grader/corpus/expected.json`` (regenerate with ``tests/grader/make_corpus.py``).
"""

from __future__ import annotations

import csv
import html
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile

import nbformat
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from conftest import REPO, tool_env

pytestmark = pytest.mark.grading

HERE = Path(__file__).resolve().parent / "grader"
CORPUS = HERE / "corpus"
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text())
L2COURSE = [sys.executable, "-m", "l2course.cli"]
# Tight limits keep the run short and the bombs harmless on a shared 2-core machine.
LIMITS = ["--cell-timeout", "5", "--notebook-timeout", "60", "--memory", "2G",
          "--processes", "24", "--jobs", "2"]


def run(args: list[str], cwd: Path, env: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*L2COURSE, *args], cwd=cwd, capture_output=True, text=True,
                          env=env or tool_env(), timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One ``l2course grade`` run over the whole corpus, given as a zip."""
    root = tmp_path_factory.mktemp("grader")
    course = root / "course"
    shutil.copytree(HERE / "course", course)
    archive = root / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((CORPUS / "submitted").rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(CORPUS))
    proc = run(["grade", "fixture", str(archive), *LIMITS], cwd=course)
    rows = {}
    for line in proc.stdout.splitlines():
        parts = line.split(None, 4)
        if parts and parts[0] in EXPECTED:
            rows[parts[0]] = parts
    with open(course / "reports" / "fixture" / "grades.csv") as fh:
        csv_rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    return {"proc": proc, "course": course, "rows": rows, "csv": csv_rows}


def test_grade_run_succeeds(graded: dict) -> None:
    proc = graded["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "grading [" in proc.stderr  # the progress bar
    assert set(graded["rows"]) == set(EXPECTED), proc.stdout


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_outcome(graded: dict, student: str) -> None:
    """Score, status and reason of each submission, in the summary, grades.csv and feedback."""
    want = EXPECTED[student]
    row = graded["rows"][student]
    assert float(row[1]) == want["score"], row
    assert float(row[2]) == 5, row
    assert row[3] == want["status"], row
    csv_row = graded["csv"][student]
    assert float(csv_row["score"]) == want["score"]
    assert csv_row["status"] == want["status"]
    assert want["reason"] in csv_row["reason"], csv_row["reason"]
    feedback = graded["course"] / "feedback" / student / "fixture" / "fixture.html"
    assert feedback.exists()
    assert want["feedback"] in html.unescape(feedback.read_text())


def test_gradebook_consistent(graded: dict) -> None:
    """Exactly the corpus, with the expected scores; the write attempt changed nothing."""
    db = graded["course"] / "gradebook.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Gradebook(f"sqlite:///{db}", "l2course-fixture") as gb:
        assert {s.id for s in gb.students} == set(EXPECTED)
        for student, want in EXPECTED.items():
            sub = gb.find_submission("fixture", student)
            assert sub.score == want["score"], student
            assert sub.max_score == 5
            assert not sub.needs_manual_grade, student
        assert len(gb.find_assignment("fixture").submissions) == len(EXPECTED)
    # the hostile kernels left nothing behind in the course
    assert not (graded["course"] / "submitted").exists()
    assert sorted(p.name for p in (graded["course"] / "autograded").iterdir()) == sorted(
        s for s, w in EXPECTED.items() if w["status"] != "invalid")


def check_corpus_notebook(tmp_path: Path, student: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``l2course check`` on a corpus student's notebook, against a fresh copy of the fixture course."""
    course = tmp_path / "course"
    shutil.copytree(HERE / "course", course)
    nb = CORPUS / "submitted" / student / "fixture" / "fixture.ipynb"
    proc = run(["check", str(nb), "--course-dir", str(course), "--cell-timeout", "10"],
               cwd=tmp_path)
    return proc, course


def test_check_full_marks(tmp_path: Path) -> None:
    proc, course = check_corpus_notebook(tmp_path, "correct")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_hidden" in proc.stdout and "total: 5 / 5" in proc.stdout
    assert not (course / "gradebook.db").exists()  # the self-check never touches it


def test_check_reports_failures(tmp_path: Path) -> None:
    proc, _ = check_corpus_notebook(tmp_path, "partial")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "total: 2 / 5" in proc.stdout
    assert "the empty vector has no penalty" in proc.stdout  # the hidden test's diagnostic


def test_refuses_without_bubblewrap(tmp_path: Path) -> None:
    env = dict(tool_env(), PATH=str(tmp_path))  # no bwrap on PATH
    proc = run(["grade", "fixture", str(CORPUS / "submitted")], cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "apt-get install bubblewrap" in proc.stderr
    assert "--no-sandbox" in proc.stderr


@pytest.mark.skipif(not (REPO / "solutions" / "ex01-penalty" / "ex01-penalty.ipynb").exists(),
                    reason="the real assignment solutions/ex01-penalty is not written yet")
def test_real_assignment_end_to_end(tmp_path: Path) -> None:
    """The instructor's source graded as a submission scores full marks; the release scores 0."""
    a = "ex01-penalty"
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / a, course / "solutions" / a)
    subs = tmp_path / "submitted"
    for student, src in (("solver", REPO / "solutions" / a / f"{a}.ipynb"),
                         ("starter", REPO / "exercises" / a / f"{a}.ipynb")):
        (subs / student / a).mkdir(parents=True)
        shutil.copy(src, subs / student / a / f"{a}.ipynb")
    proc = run(["grade", a, str(subs), "--jobs", "2"], cwd=course)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2-regularization") as gb:
        solver = gb.find_submission(a, "solver")
        assert solver.max_score > 0 and solver.score == solver.max_score
        assert gb.find_submission(a, "starter").score == 0
    proc = run(["check", str(subs / "solver" / a / f"{a}.ipynb"), "--course-dir", str(course)],
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_prints_the_whole_diagnostic(tmp_path: Path) -> None:
    """A learner's self-check on a real exercise names the mistake and the section to reread."""
    a = "ex03-l1-vs-l2"
    nb = nbformat.read(REPO / "exercises" / a / f"{a}.ipynb", as_version=4)
    stub = "    # YOUR CODE HERE\n    raise NotImplementedError()"
    for cell in nb.cells:
        if "def ridge_shrink" in cell.source:
            assert stub in cell.source
            cell.source = cell.source.replace(stub, "    return np.asarray(z) / (1 + lam)")
    mine = tmp_path / f"{a}.ipynb"
    nbformat.write(nb, mine)
    proc = run(["check", str(mine), "--course-dir", str(REPO)], cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "test_ridge_shrink" in proc.stdout
    # The diagnostic's end, past any one-line summary: the mistake and where to read about it.
    assert "(lam/2)β²" in proc.stdout and "The ½ convention" in proc.stdout, proc.stdout
