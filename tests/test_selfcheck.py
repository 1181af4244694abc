"""The learner's self-check finds its course and its assignment (issue 18, item 7).

``l2course check NOTEBOOK`` as the exercise page says it: typed in the notebook's own folder, in
any folder of a clone, on a renamed download ("ex05 (1).ipynb"); and a clear way out when there
is no course to be found. The Makefile target the exercises page names exists and the README
tells how to use it.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, tool_env
from l2course.course import Course
from l2course.selfcheck import CourseNotFound, find_course, identify_assignment

FIXTURE = Path(__file__).resolve().parent / "grader" / "course"
PARTIAL = (Path(__file__).resolve().parent / "grader" / "corpus" / "submitted" / "partial"
           / "fixture" / "fixture.ipynb")
ASSIGNMENTS = Course.load(REPO).assignments()


def test_course_found_by_walking_up_from_any_folder(tmp_path: Path) -> None:
    deep = REPO / "exercises" / "ex02-mechanism" / "ex02-mechanism.ipynb"
    assert find_course(deep, cwd=tmp_path).root == REPO.resolve()
    # a download outside the course, checked from a folder inside it
    (tmp_path / "ex02-mechanism.ipynb").write_bytes(deep.read_bytes())
    assert find_course(tmp_path / "ex02-mechanism.ipynb", cwd=REPO / "chapters").root == REPO


def test_no_course_says_what_to_do(tmp_path: Path) -> None:
    nb = tmp_path / "ex02-mechanism.ipynb"
    nb.write_text("{}")
    with pytest.raises(CourseNotFound) as err:
        find_course(nb, cwd=tmp_path)
    text = str(err.value)
    assert "make venv" in text and "--course-dir" in text and str(tmp_path) in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_named_by_the_notebook_not_its_file_name(assignment: str,
                                                             tmp_path: Path) -> None:
    renamed = tmp_path / "ex05 (1).ipynb"
    shutil.copy(REPO / "exercises" / assignment / f"{assignment}.ipynb", renamed)
    assert identify_assignment(Course.load(REPO), renamed) == assignment


def test_a_notebook_without_metadata_is_named_by_its_file_name(tmp_path: Path) -> None:
    nb = json.loads((REPO / "exercises" / "ex05-implementation" /
                     "ex05-implementation.ipynb").read_text())
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    for name, want in (("ex05 (1).ipynb", "ex05-implementation"),
                       ("ex05-implementation.ipynb", "ex05-implementation"),
                       ("homework.ipynb", None)):
        (tmp_path / name).write_text(json.dumps(nb))
        assert identify_assignment(Course.load(REPO), tmp_path / name) == want


def test_check_cli_from_the_notebooks_folder_on_a_renamed_download(tmp_path: Path) -> None:
    """Typed as the exercise page says, in a sub-folder of the course, on "fixture (1).ipynb";
    the feedback page it writes gives the hidden test's message, not its code."""
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course)
    folder = course / "my work" / "week 1"
    folder.mkdir(parents=True)
    shutil.copy(PARTIAL, folder / "fixture (1).ipynb")
    proc = subprocess.run([sys.executable, "-m", "l2course.cli", "check", "fixture (1).ipynb",
                           "--cell-timeout", "10", "--feedback", "page.html"],
                          cwd=folder, env=tool_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # not full marks: but graded
    assert "total: 2 / 5" in proc.stdout, proc.stdout + proc.stderr
    page = (folder / "page.html").read_text()
    assert "the empty vector has no penalty" in html.unescape(page)
    assert "HIDDEN TESTS" not in page and "np.arange(4)" not in page
    assert not (course / "gradebook.db").exists()


def test_check_cli_outside_any_course_explains(tmp_path: Path) -> None:
    shutil.copy(PARTIAL, tmp_path / "fixture.ipynb")
    proc = subprocess.run([sys.executable, "-m", "l2course.cli", "check", "fixture.ipynb"],
                          cwd=tmp_path, env=tool_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "cannot find the course" in proc.stderr and "--course-dir" in proc.stderr


def test_make_venv_is_documented() -> None:
    """The exercises page sends learners to ``make venv`` and the README: both must know it."""
    page = (REPO / "exercises" / "index.md").read_text()
    assert "make venv" in page
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^venv:", makefile, re.M) and 'make venv ' in makefile  # in `make help`
    readme = (REPO / "README.md").read_text()
    learners = readme[readme.index("## For learners"):readme.index("## For instructors")]
    assert "make venv" in learners and "l2course check" in learners
