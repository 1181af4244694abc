"""Proof that every nbgrader assignment (each ``solutions/<id>/``) works.

For each assignment (one test class, so ``pytest -n auto --dist loadscope`` keeps its tests on one
worker), a temporary copy of the course (``nbgrader_config.py``, ``solutions/``, ``exercises/``)
is made and, in one ``nbgrader autograde`` run, these submissions are graded:

* ``solution``: the release with every answer cell filled from the instructor's source → full marks;
* ``blank``: the untouched release → zero;
* one submission per entry of ``solutions/<assignment>/mistakes.toml`` (a small code variant applied to the
  solution) → less than full marks, and the graded cells' output names the mistake;
* tampering: test cells edited or deleted, by a learner who answered nothing (→ zero), who answered
  everything (deleted tests → full marks, i.e. the instructor's tests were put back and run), or
  who made a mistake and replaced the tests by ``pass`` (→ still caught).

The release is also regenerated from ``solutions/`` and must equal the committed ``exercises/``.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, BIN, REPO, tool_env

POINTS = 10  # every assignment totals 10 points


def _catalogue(aid: str) -> dict[str, dict[str, dict[str, str]]]:
    """``solutions/<aid>/mistakes.toml``: the assignment's own plausible mistakes, kept beside its
    source so that adding an assignment touches no test module (the file's header says the format).
    An assignment without the file has no catalogue, which ``test_mistake_catalogue_is_large_enough``
    reports."""
    path = REPO / "solutions" / aid / "mistakes.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _table(kind: str, *fields: str) -> dict[str, dict[str, tuple[str, ...]]]:
    return {aid: {name: tuple(entry[f] for f in fields)
                  for name, entry in _catalogue(aid).get(kind, {}).items()}
            for aid in ASSIGNMENTS}


# {assignment: {mistake: (snippet in the solution, replacement, phrase expected in the feedback)}}
MISTAKES = _table("mistakes", "old", "new", "phrase")
# {assignment: {variant: (snippet, replacement, phrase that must NOT appear)}}: wrong answers that
# must lose points without being given a diagnosis that does not fit them
MISDIAGNOSED = _table("misdiagnosed", "old", "new", "phrase")
# {assignment: {variant: (snippet, replacement)}}: correct alternatives that must keep full marks
ACCEPTED = _table("accepted", "old", "new")


# --------------------------------------------------------------------------------------------
# notebook helpers


def read_nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_nb(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def src(cell: dict) -> str:
    s = cell["source"]
    return s if isinstance(s, str) else "".join(s)


def nbg(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell: dict) -> bool:
    return bool(nbg(cell).get("grade")) and not nbg(cell).get("solution")


def strip_markers(code: str) -> str:
    return "\n".join(
        line
        for line in code.splitlines()
        if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def solution_lines(aid: str) -> list[str]:
    """Non-trivial lines written between the SOLUTION markers of the instructor's source."""
    lines: list[str] = []
    for cell in read_nb(REPO / "solutions" / aid / f"{aid}.ipynb")["cells"]:
        inside = False
        for line in src(cell).splitlines():
            if line.strip() == "### BEGIN SOLUTION":
                inside = True
            elif line.strip() == "### END SOLUTION":
                inside = False
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


def filled(aid: str, release: dict) -> dict:
    """The release with each answer cell replaced by the instructor's code (what a learner writes)."""
    answers = {
        nbg(c)["grade_id"]: strip_markers(src(c))
        for c in read_nb(REPO / "solutions" / aid / f"{aid}.ipynb")["cells"]
        if nbg(c).get("solution")
    }
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        if nbg(cell).get("solution"):
            cell["source"] = answers[nbg(cell)["grade_id"]]
    return nb


def with_mistake(nb: dict, old: str, new: str) -> dict:
    nb = copy.deepcopy(nb)
    hits = [c for c in nb["cells"] if nbg(c).get("solution") and old in src(c)]
    assert len(hits) == 1 and src(hits[0]).count(old) == 1, f"snippet not unique: {old!r}"
    hits[0]["source"] = src(hits[0]).replace(old, new)
    return nb


def with_tests_replaced(nb: dict, code: str) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if is_test(cell):
            cell["source"] = code
    return nb


def with_tests_deleted(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"] = [c for c in nb["cells"] if not is_test(c)]
    return nb


def cell_output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}\n" + "\n".join(out["traceback"]))
        else:
            parts.append(json.dumps(out.get("data", {})))
    return "\n".join(parts)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --------------------------------------------------------------------------------------------
# one autograde run per assignment


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nbgrader"), *args],
        cwd=course,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )


class Graded:
    """Scores, per-cell grades and output text of every submission of one assignment."""

    def __init__(self, aid: str, course: Path, students: list[str], log: str):
        from nbgrader.api import Gradebook

        self.aid, self.course, self.log = aid, course, log
        self.score: dict[str, float] = {}
        self.max_score: dict[str, float] = {}
        self.manual: dict[str, bool] = {}
        self.text: dict[str, str] = {}
        self.stderr: dict[str, str] = {}
        self.graded_ids: dict[str, list[str]] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "l2-regularization") as gb:
            for s in students:
                sub = gb.find_submission(self.aid, s)
                self.score[s], self.max_score[s] = sub.score, sub.max_score
                self.manual[s] = sub.needs_manual_grade
        for s in students:
            nb = read_nb(course / "autograded" / s / aid / f"{aid}.ipynb")
            grade_cells = [c for c in nb["cells"] if is_test(c)]
            self.graded_ids[s] = [nbg(c)["grade_id"] for c in grade_cells]
            self.text[s] = ANSI.sub("", "\n".join(cell_output_text(c) for c in grade_cells))
            self.stderr[s] = "".join(
                out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"])
                for c in nb["cells"]
                for out in c.get("outputs", [])
                if out["output_type"] == "stream" and out.get("name") == "stderr"
            )


def grade_assignment(aid: str, tmp: Path) -> Graded:
    course = tmp / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions", course / "solutions")
    shutil.copytree(REPO / "exercises", course / "exercises")
    gen = nbgrader(course, "generate_assignment", aid, "--force")
    assert gen.returncode == 0, gen.stdout + gen.stderr

    release = read_nb(REPO / "exercises" / aid / f"{aid}.ipynb")
    solved = filled(aid, release)
    submissions = {
        "solution": solved,
        "blank": release,
        "tamper_edit_blank": with_tests_replaced(release, 'print("all tests passed")'),
        "tamper_delete_blank": with_tests_deleted(release),
        "tamper_delete_solved": with_tests_deleted(solved),
    }
    for first_old, first_new, _ in list(MISTAKES.get(aid, {}).values())[:1]:
        submissions["tamper_edit_mistake"] = with_tests_replaced(
            with_mistake(solved, first_old, first_new), "pass")
    for name, (old, new, _) in MISTAKES.get(aid, {}).items():
        submissions["mistake_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for name, (old, new) in ACCEPTED.get(aid, {}).items():
        submissions["accepted_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for name, (old, new, _) in MISDIAGNOSED.get(aid, {}).items():
        submissions["misdiagnosed_" + name.replace("-", "_")] = with_mistake(solved, old, new)
    for student, nb in submissions.items():
        write_nb(course / "submitted" / student / aid / f"{aid}.ipynb", nb)
    run = nbgrader(course, "autograde", aid, "--force")
    assert run.returncode == 0, run.stdout + run.stderr
    return Graded(aid, course, list(submissions), run.stdout + run.stderr)


# --------------------------------------------------------------------------------------------
# the tests: one class per assignment, sharing one autograde run


class _Assignment:
    aid = ""

    @pytest.fixture(scope="class")
    @classmethod
    def graded(cls, tmp_path_factory) -> Graded:
        return grade_assignment(cls.aid, tmp_path_factory.mktemp(cls.aid))

    @property
    def source(self) -> dict:
        return read_nb(REPO / "solutions" / self.aid / f"{self.aid}.ipynb")

    @property
    def release(self) -> dict:
        return read_nb(REPO / "exercises" / self.aid / f"{self.aid}.ipynb")

    # ---- static checks on the source (fast)

    def test_source_metadata(self):
        cells = self.source["cells"]
        ids = [nbg(c)["grade_id"] for c in cells if nbg(c)]
        assert len(ids) == len(set(ids)), f"duplicate grade_ids: {ids}"
        assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
        for cell in cells:
            meta = nbg(cell)
            if not meta:
                continue
            assert meta["schema_version"] == 3
            code = src(cell)
            if is_test(cell):
                assert meta["locked"], f"test cell {meta['grade_id']} is not locked"
                assert "### BEGIN SOLUTION" not in code
                last = ast.parse(code).body[-1]
                assert not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Constant)), (
                    f"{meta['grade_id']} ends with a bare value (nbgrader would take it as partial credit)"
                )
                assert not re.search(r"^\s*(import|from)\s+(solutions|l2course)\b", code, re.M), (
                    f"{meta['grade_id']} imports the solution or the course tooling"
                )
                assert "solutions/" not in code, f"{meta['grade_id']} reads the instructor's files"
            if meta.get("solution"):
                assert "### BEGIN SOLUTION" in code and "### END SOLUTION" in code
                assert "HIDDEN TESTS" not in code
        assert sum(nbg(c).get("points", 0) for c in cells if is_test(c)) == POINTS
        assert any("How this is graded" in src(c) for c in cells if c["cell_type"] == "markdown")

    def test_release_has_no_solution_or_hidden_test(self):
        text = json.dumps(self.release)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        leaked = [line for line in solution_lines(self.aid) if line in "\n".join(
            src(c) for c in self.release["cells"])]
        assert not leaked, f"solution lines in the release: {leaked}"
        assert all(not c.get("outputs") for c in self.release["cells"] if c["cell_type"] == "code")

    def test_mistake_catalogue_is_large_enough(self):
        assert len(MISTAKES.get(self.aid, {})) >= 5, (
            f"{self.aid}: list at least 5 plausible mistakes in solutions/{self.aid}/mistakes.toml")

    # ---- one autograde run

    @pytest.mark.grading
    def test_release_is_regenerated_exactly(self, graded):
        regenerated = graded.course / "exercises" / self.aid / f"{self.aid}.ipynb"
        committed = REPO / "exercises" / self.aid / f"{self.aid}.ipynb"
        assert regenerated.read_text() == committed.read_text(), (
            f"exercises/{self.aid} is stale: run `.venv/bin/l2course release {self.aid}`"
        )
        released = sorted(p.name for p in regenerated.parent.iterdir())
        assert released == [f"{self.aid}.ipynb"], (
            f"the release of {self.aid} carries instructor files: {released} "
            "(nbgrader_config.py's CourseDirectory.ignore must list them)")

    @pytest.mark.grading
    def test_solution_scores_full_marks(self, graded):
        assert graded.max_score["solution"] == POINTS
        assert graded.score["solution"] == POINTS, graded.text["solution"]
        assert not graded.manual["solution"]
        assert graded.stderr["solution"] == "", graded.stderr["solution"]

    @pytest.mark.grading
    def test_blank_release_scores_zero(self, graded):
        assert graded.score["blank"] == 0
        assert "NotImplementedError" in graded.text["blank"]

    @pytest.mark.grading
    @pytest.mark.parametrize("student", ["tamper_edit_blank", "tamper_delete_blank"])
    def test_tampered_tests_still_grade_an_empty_answer_zero(self, graded, student):
        assert graded.score[student] == 0, graded.text[student]
        assert not graded.manual[student]
        assert graded.graded_ids[student] == graded.graded_ids["solution"]

    @pytest.mark.grading
    def test_deleted_tests_are_put_back_and_run(self, graded):
        assert graded.score["tamper_delete_solved"] == POINTS, graded.text["tamper_delete_solved"]
        assert graded.graded_ids["tamper_delete_solved"] == graded.graded_ids["solution"]

    @pytest.mark.grading
    def test_edited_tests_still_catch_a_mistake(self, graded):
        if not MISTAKES.get(self.aid):
            pytest.skip(f"{self.aid} has no mistake catalogue yet (see the catalogue test)")
        first = "mistake_" + next(iter(MISTAKES[self.aid])).replace("-", "_")
        assert graded.score["tamper_edit_mistake"] == graded.score[first] < POINTS

    @pytest.mark.grading
    def test_each_mistake_loses_points_and_is_named(self, graded):
        report = []
        for name, (_, _, phrase) in MISTAKES.get(self.aid, {}).items():
            student = "mistake_" + name.replace("-", "_")
            score, text = graded.score[student], graded.text[student]
            if score >= POINTS or phrase not in text:
                report.append(f"{name}: score {score}, phrase {phrase!r} found: {phrase in text}\n{text[-1500:]}")
        assert not report, "\n\n".join(report)


    @pytest.mark.grading
    def test_wrong_answers_get_no_unfitting_diagnosis(self, graded):
        for name, (_, _, phrase) in MISDIAGNOSED.get(self.aid, {}).items():
            student = "misdiagnosed_" + name.replace("-", "_")
            assert graded.score[student] < POINTS, name
            assert phrase not in graded.text[student], f"{name}: {graded.text[student][-1500:]}"

    @pytest.mark.grading
    def test_accepted_variants_keep_full_marks(self, graded):
        for name in ACCEPTED.get(self.aid, {}):
            student = "accepted_" + name.replace("-", "_")
            assert graded.score[student] == POINTS, f"{name}: {graded.text[student][-1500:]}"


def _class_name(aid: str) -> str:
    """``ex03-l1-vs-l2`` → ``TestEx03L1VsL2`` (``-k Ex03`` selects one assignment)."""
    return "Test" + "".join(part.capitalize() for part in aid.split("-"))


# --------------------------------------------------------------------------------------------
# facts that exercise 5's feedback and closing text state about kfold_ridge_cv (static, < 1 s)


def _ex05_functions(old: str = "", new: str = "") -> dict:
    """ridge_closed_form and kfold_ridge_cv from the instructor's source (optionally with a mistake)."""
    code = "\n".join(
        strip_markers(src(c))
        for c in read_nb(REPO / "solutions" / "ex05-implementation" / "ex05-implementation.ipynb")["cells"]
        if nbg(c).get("grade_id") in ("ridge_closed_form", "kfold_ridge_cv")
    )
    namespace: dict = {"np": __import__("numpy")}
    exec(code.replace(old, new) if old else code, namespace)  # noqa: S102 - the course's own source
    return namespace


def test_ex05_kfold_feedback_matches_scikit_learn():
    """The array_split diagnosis also fits KFold(shuffle=False), and alpha = n_fit * lam reproduces
    kfold_ridge_cv with scikit-learn (the closing text's "with alpha = n·λ")."""
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, PredefinedSplit, cross_val_score

    n, k = 10, 3
    kfold_folds = [val for _, val in KFold(n_splits=k).split(np.zeros((n, 1)))]
    split_folds = np.array_split(np.arange(n), k)
    assert [len(f) for f in kfold_folds] == [4, 3, 3]
    assert all(np.array_equal(a, b) for a, b in zip(kfold_folds, split_folds))

    rng = np.random.default_rng(0)
    X, y, lams = rng.normal(size=(n, 2)), rng.normal(size=n), [0.01, 0.1, 1.0]
    old, new, _ = MISTAKES["ex05-implementation"]["folds-by-kfold"]
    by_kfold = _ex05_functions(old, new)["kfold_ridge_cv"](X, y, lams, k)[1]
    old, new, _ = MISTAKES["ex05-implementation"]["folds-by-array-split"]
    by_split = _ex05_functions(old, new)["kfold_ridge_cv"](X, y, lams, k)[1]
    assert np.allclose(by_kfold, by_split)

    mean_val_mse = _ex05_functions()["kfold_ridge_cv"](X, y, lams, k)[1]
    fold_of_row = np.repeat(np.arange(k), np.diff([i * n // k for i in range(k + 1)]))
    for lam, mse in zip(lams, mean_val_mse):
        scores = [
            -cross_val_score(Ridge(alpha=(n - np.sum(fold_of_row == i)) * lam), X, y,
                             cv=PredefinedSplit(np.where(fold_of_row == i, 0, -1)),
                             scoring="neg_mean_squared_error")[0]
            for i in range(k)
        ]
        assert np.isclose(mse, np.mean(scores), rtol=1e-10)


# One test class per assignment found in solutions/, so ``--dist loadscope`` grades each
# assignment once, on one worker (a parametrised class would put them all on one worker).
for _aid in ASSIGNMENTS:
    globals()[_class_name(_aid)] = type(_class_name(_aid), (_Assignment,), {"aid": _aid})
