"""Regenerate the grader's fixture course and hostile corpus (committed; run by hand).

    .venv/bin/python tests/grader/make_corpus.py

Writes ``tests/grader/course/source/fixture/fixture.ipynb`` (a small nbgrader source: one
solution cell, two graded test cells, one of them with hidden tests; 5 points), then releases it
with nbgrader in a scratch directory and derives one submission per hostile case under
``tests/grader/corpus/submitted/<student>/fixture/``, with the expected outcome of each in
``tests/grader/corpus/expected.json``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
COURSE = HERE / "course"
CORPUS = HERE / "corpus"
A = "fixture"


def meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int = 0) -> dict:
    data = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution}
    if grade:
        data["points"] = points
    return {"nbgrader": data}


SOLUTION = '''def sum_of_squares(w):
    """Return the sum of the squares of the entries of w, as a float."""
    ### BEGIN SOLUTION
    return float(np.sum(np.asarray(w, dtype=float) ** 2))
    ### END SOLUTION'''

CORRECT = '''def sum_of_squares(w):
    """Return the sum of the squares of the entries of w, as a float."""
    return float(np.sum(np.asarray(w, dtype=float) ** 2))'''


def source_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.cells = [
        new_markdown_cell("# Fixture assignment\n\nWrite `sum_of_squares(w)` = Σ wⱼ²."),
        new_code_cell("import numpy as np", metadata=meta("setup", grade=False,
                                                           solution=False, locked=True)),
        new_code_cell(SOLUTION, metadata=meta("squares", grade=False, solution=True,
                                              locked=False)),
        new_code_cell('assert np.isclose(sum_of_squares([1, 2]), 5.0), "[1, 2] should give 5"\n'
                      'print("ok")',
                      metadata=meta("test_basic", grade=True, solution=False, locked=True,
                                    points=2)),
        new_code_cell('assert sum_of_squares([]) == 0.0, "the empty vector has no penalty"\n'
                      "### BEGIN HIDDEN TESTS\n"
                      'assert np.allclose(sum_of_squares(np.arange(4)), 14.0), "hidden"\n'
                      "### END HIDDEN TESTS\n"
                      'print("ok")',
                      metadata=meta("test_hidden", grade=True, solution=False, locked=True,
                                    points=3)),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # stable ids: regenerating gives the same files
    return nb


def release(tmp: Path) -> nbformat.NotebookNode:
    course = tmp / "course"
    shutil.copytree(COURSE, course)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", A,
                    "--force"], cwd=course, env=env, check=True, capture_output=True)
    return nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)


def with_solution(rel: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(rel)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "squares":
            cell.source = code
    return nb


def grade_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


# (student, builder, expected score, expected status, substring of the reason)
def cases(rel: nbformat.NotebookNode) -> list[tuple[str, object, float, str, str]]:
    def sol(code: str):
        return with_solution(rel, code)

    wrong = CORRECT.replace("** 2", "")  # sum instead of sum of squares
    partial = CORRECT.replace("return float", "return 1.0 if len(w) == 0 else float")

    def deleted():
        nb = sol(CORRECT)
        nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
        return nb

    def edited():
        nb = sol(wrong)
        for cell in grade_cells(nb):
            cell.source = "pass"
        return nb

    def retyped():
        nb = sol(wrong)
        for cell in grade_cells(nb):
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        return nb

    def grade_false():
        nb = sol(wrong)
        for cell in grade_cells(nb):
            cell.metadata["nbgrader"]["grade"] = False
        return nb

    def points():
        nb = sol(CORRECT)
        for cell in grade_cells(nb):
            cell.metadata["nbgrader"]["points"] = 100
        return nb

    steal = '''import json, os
def _find(name):
    for top in ("/tmp", "/work", "/root", "/home", "/srv", "/var", os.path.abspath("../../..")):
        for folder, dirs, files in os.walk(top):
            if name in files and ("source" in folder or "submitted" in folder):
                return os.path.join(folder, name)
    raise FileNotFoundError(name + " is nowhere to be seen")
_nb = json.load(open(_find("fixture.ipynb")))
exec("".join(c["source"] for c in _nb["cells"] if "sum_of_squares(w)" in "".join(c["source"])))
'''
    gradebook = '''import os, sqlite3, glob
hits = glob.glob("/**/gradebook.db", recursive=False) + glob.glob("../../../gradebook.db")
for path in hits + ["../../../gradebook.db"]:
    try:
        db = sqlite3.connect(path)
        db.execute("UPDATE grade SET auto_score = 100")
        db.commit()
    except Exception as exc:
        print("could not write", path, type(exc).__name__)
''' + CORRECT
    return [
        ("correct", sol(CORRECT), 5, "graded", ""),
        ("blank", copy.deepcopy(rel), 0, "graded", "NotImplementedError"),
        ("wrong", sol(wrong), 0, "graded", "AssertionError: [1, 2] should give 5"),
        ("partial", sol(partial), 2, "graded", "the empty vector has no penalty"),
        ("invalid-json", b'{"cells": [', 0, "invalid", "not valid JSON"),
        ("empty-file", b"", 0, "invalid", "empty file"),
        ("renamed", ("my_work.ipynb", sol(CORRECT)), 5, "graded", "submitted as my_work.ipynb"),
        ("missing", ("notes.txt", b"I forgot the notebook"), 0, "invalid", "missing"),
        ("deleted-tests", deleted(), 5, "graded", "deleted; restored"),
        ("edited-tests", edited(), 0, "graded", "edited; restored"),
        ("retyped-tests", retyped(), 0, "graded", "re-typed as markdown"),
        ("grade-false", grade_false(), 0, "graded", "grade: False"),
        ("points-tamper", points(), 5, "graded", "points: 100"),
        ("infinite-loop", sol("while True:\n    pass\n" + CORRECT), 0, "limit",
         "cell time limit"),
        ("memory-bomb", sol("hog = []\nwhile True:  # 512 MiB more address space each time\n"
                            "    hog.append(np.empty(2**26))\n"
                            + CORRECT), 0, "limit", "memory limit"),
        ("fork-bomb", sol("import os\nwhile True:\n    try:\n        os.fork()\n"
                          "    except OSError:\n        pass\n" + CORRECT), 0, "limit",
         "limit"),
        ("sys-exit", sol(CORRECT + "\nimport sys\nsys.exit(1)"), 5, "graded", ""),
        ("os-exit", sol(CORRECT + "\nimport os\nos._exit(0)"), 0, "crashed", "kernel died"),
        ("self-kill", sol(CORRECT + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
         0, "crashed", "kernel died"),
        ("huge-output", sol(CORRECT + '\nfor _ in range(1000):\n    print("x" * 100_000)'), 5, "limit",
         "output limit"),
        ("read-solutions", sol(steal), 0, "graded", "FileNotFoundError: fixture.ipynb is nowhere"),
        ("write-gradebook", sol(gradebook), 5, "graded", ""),
        ("network", sol("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)\n"
                        + CORRECT), 0, "graded", "OSError: [Errno 101] Network is unreachable"),
        ("monkeypatch", sol("import builtins\nnp.isclose = lambda *a, **k: True\n"
                            "np.allclose = lambda *a, **k: True\n"
                            "def sum_of_squares(w):\n    return 0.0"), 0, "tampered",
         "numpy.allclose"),
        ("warnings", sol("import warnings\n" + CORRECT.replace(
            "    return", "    warnings.warn('w will be a float array', FutureWarning)\n"
                         "    return")), 5, "graded", ""),
    ]


#: A phrase the student's HTML feedback must contain (the reason, as the student sees it).
FEEDBACK = {
    "correct": "",
    "blank": "NotImplementedError",
    "wrong": "should give 5",
    "partial": "the empty vector has no penalty",
    "invalid-json": "not valid JSON",
    "empty-file": "empty file",
    "renamed": "my_work.ipynb",
    "missing": "missing",
    "deleted-tests": "deleted; restored",
    "edited-tests": "edited; restored",
    "retyped-tests": "re-typed as markdown",
    "grade-false": "grade: False",
    "points-tamper": "points: 100",
    "infinite-loop": "CellTimeoutError",
    "memory-bomb": "MemoryError",
    "fork-bomb": "ProcessLimitExceeded",
    "sys-exit": "",
    "os-exit": "KernelDied",
    "self-kill": "KernelDied",
    "huge-output": "OutputLimitExceeded",
    "read-solutions": "is nowhere to be seen",
    "write-gradebook": "could not write",
    "network": "Network is unreachable",
    "monkeypatch": "IntegrityError",
    "warnings": "",
}


def main() -> None:
    COURSE.joinpath("source", A).mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), COURSE / "source" / A / f"{A}.ipynb")
    with tempfile.TemporaryDirectory() as tmp:
        rel = release(Path(tmp))
    shutil.rmtree(CORPUS, ignore_errors=True)
    expected = {}
    for student, content, score, status, reason in cases(rel):
        folder = CORPUS / "submitted" / student / A
        folder.mkdir(parents=True)
        name = f"{A}.ipynb"
        if isinstance(content, tuple):
            name, content = content
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(content, path)
        expected[student] = {"score": score, "status": status, "reason": reason,
                             "feedback": FEEDBACK[student]}
    (CORPUS / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {len(expected)} submissions under {CORPUS}")


if __name__ == "__main__":
    main()
