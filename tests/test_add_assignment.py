"""Adding an assignment is: write ``solutions/<id>/``, release it, add it to ``_toc.yml``.

Proven on a scratch copy of the course: after exactly those three steps (the new assignment is
a copy of ex01 under another id), and nothing else, the new assignment is

* found by the grader (``Course.assignments``) and graded by ``l2course check`` (full marks);
* in the instructor edition's table of contents (``_instructor/build_config.py``);
* tested by every test module that covers assignments (one class of ``test_exercises.py``, so
  ``--dist loadscope`` gives it its own worker; the parametrised book and instructor tests).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ASSIGNMENTS, BIN, REPO, tool_env
from l2course.course import Course

pytestmark = pytest.mark.grading

NEW = "ex99-scratch"
COPIED = ["nbgrader_config.py", "_toc.yml", "_config.yml", "_config_instructor.yml", "pyproject.toml",
          "_instructor", "_ext", "solutions", "exercises", "chapters", "tests"]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=tool_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the course with NEW added by the three documented steps only."""
    root = tmp_path_factory.mktemp("add-assignment")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns(
                "__pycache__", ".ipynb_checkpoints", "_build", "corpus"))
        else:
            shutil.copy(src, root / name)
    template = ASSIGNMENTS[0]
    # 1. write solutions/<id>/
    (root / "solutions" / NEW).mkdir()
    shutil.copy(REPO / "solutions" / template / f"{template}.ipynb",
                root / "solutions" / NEW / f"{NEW}.ipynb")
    # 2. release it
    _run([str(BIN / "nbgrader"), "generate_assignment", NEW, "--force"], root)
    # 3. add it to _toc.yml, after the last exercise
    toc_path = root / "_toc.yml"
    toc_path.write_text(toc_path.read_text().replace(
        f"          - file: exercises/{ASSIGNMENTS[-1]}/{ASSIGNMENTS[-1]}\n",
        f"          - file: exercises/{ASSIGNMENTS[-1]}/{ASSIGNMENTS[-1]}\n"
        f"          - file: exercises/{NEW}/{NEW}\n"))
    assert f"exercises/{NEW}/{NEW}" in toc_path.read_text()
    return root


def test_the_release_exists(scratch: Path) -> None:
    assert (scratch / "exercises" / NEW / f"{NEW}.ipynb").is_file()
    assert Course.load(scratch).assignments() == sorted([*ASSIGNMENTS, NEW])


def test_instructor_edition_lists_its_solution(scratch: Path) -> None:
    out = scratch / "_build" / ".instructor"
    _run([sys.executable, "_instructor/build_config.py", str(out)], scratch)
    toc = yaml.safe_load((out / "_toc.yml").read_text())
    solutions = [c["file"] for c in toc["parts"][-1]["chapters"]]
    assert solutions[-1] == f"solutions/{NEW}/{NEW}"
    assert len(solutions) == len(ASSIGNMENTS) + 1


def test_every_assignment_test_covers_it(scratch: Path) -> None:
    modules = ["tests/test_exercises.py", "tests/test_exercises_book.py",
               "tests/test_instructor.py"]
    proc = _run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider",
                 "--collect-only", "-q", *modules], scratch)
    ids = proc.stdout.splitlines()
    assert sum("::TestEx99Scratch::" in i for i in ids) == sum(
        f"::TestEx{ASSIGNMENTS[0][2:4]}" in i for i in ids) > 0, proc.stdout[-2000:]
    assert any(i.startswith("tests/test_instructor.py") and f"[{NEW}]" in i for i in ids)


def test_the_grader_grades_it(scratch: Path) -> None:
    notebook = scratch / "solutions" / NEW / f"{NEW}.ipynb"
    proc = _run([sys.executable, "-m", "l2course.cli", "check", str(notebook)], scratch)
    assert "full marks" in proc.stdout and "not full marks" not in proc.stdout, proc.stdout
