"""The exercises in the book: the learner edition shows the releases and never a solution;
the instructor edition's config adds the executed solutions with their cells collapsed."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys

from pathlib import Path

import pytest
import yaml

from conftest import ASSIGNMENTS, REPO


# A line of a solution notebook that its release does not have (an answer, a hidden test, the
# nbgrader markers) is solution-only: none may reach the learner edition, neither in a page's text
# nor in a downloadable file. Derived from solutions/ vs exercises/, so a new assignment is covered
# as soon as it is released. Lines shorter than this are left out: "return w" or "pass" also
# occur in code the chapters teach.
MIN_SENTINEL = 16


def notebook_lines(path) -> list[str]:
    """Every non-blank line of every cell of a notebook, stripped."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [line.strip() for c in cells for line in "".join(c["source"]).splitlines() if line.strip()]


def solution_only(assignment: str) -> list[str]:
    """The lines of ``assignment``'s solution that its release lacks (long enough to be telling)."""
    released = "\n".join(notebook_lines(REPO / "exercises" / assignment / f"{assignment}.ipynb"))
    lines = notebook_lines(REPO / "solutions" / assignment / f"{assignment}.ipynb")
    return list(dict.fromkeys(
        s for s in lines if len(s) >= MIN_SENTINEL and s not in released  # not even inside a line
    ))


# A line one assignment hides may be another's visible text (the translation tables share
# phrases such as 'penalising the intercept'): only lines no release shows are sentinels.
ALL_RELEASED = "\n".join(
    line for a in ASSIGNMENTS for line in notebook_lines(REPO / "exercises" / a / f"{a}.ipynb"))
SOLUTION_ONLY = list(dict.fromkeys(
    s for a in ASSIGNMENTS for s in solution_only(a) if s not in ALL_RELEASED))


def learner_sources() -> str:
    """Text of every page the learner edition is built from except the exercises: a line the
    chapters themselves teach (say, soft-thresholding) is not a leak."""
    parts = []
    for path in [REPO / "intro.md", *sorted((REPO / "chapters").glob("*"))]:
        if path.suffix == ".md":
            parts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            parts += ["".join(c["source"]) for c in cells]
            parts += [json.dumps(c.get("outputs", [])) for c in cells]
    return "\n".join(parts)


def page_text(path) -> str:
    """Text of a built file with HTML tags removed (highlighted code is split into spans)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return raw


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_solution_has_solution_only_lines(assignment):
    """The derivation finds the answer and the nbgrader markers of every assignment."""
    found = solution_only(assignment)
    assert "### BEGIN SOLUTION" in found and len(found) >= 3, found


@pytest.mark.build
def test_learner_edition_has_the_exercises_and_no_solution(built_book):
    html_dir = built_book.html_dir
    assert (html_dir / "exercises" / "index.html").exists(), built_book.log[-3000:]
    for a in ASSIGNMENTS:
        page = html_dir / "exercises" / a / f"{a}.html"
        assert page.exists(), f"no page for {a}"
        text = page.read_text(encoding="utf-8")
        assert f"exercises/{a}/{a}.ipynb" in text  # download / launch buttons point at the release
        assert "mybinder.org" in text and "colab.research.google.com" in text
        assert "YOUR CODE HERE" in page_text(page)
    assert not (html_dir / "solutions").exists()
    taught = learner_sources()
    sentinels = [s for s in SOLUTION_ONLY if s not in taught]
    assert len(sentinels) >= 10, f"too few solution-only lines left to check: {sentinels}"
    leaks = []
    for path in html_dir.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".txt", ".md", ".js", ".json"}:
            text = page_text(path)
            leaks += [f"{path.relative_to(html_dir)}: {s}" for s in sentinels if s in text]
    assert not leaks, "solution code in the learner edition:\n" + "\n".join(leaks)


def test_instructor_config_adds_the_solutions(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "_instructor" / "build_config.py"), str(tmp_path)], check=True
    )
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    learner = yaml.safe_load((REPO / "_config.yml").read_text())
    assert "solutions" in learner["exclude_patterns"]
    assert "solutions" not in config["exclude_patterns"]
    # solutions/ are executed, releases are not; chapters come from the learner edition's cache
    cache = config["execute"].pop("cache")
    assert config["execute"] == learner["execute"]
    assert Path(cache) == REPO / "_build" / ".jupyter_cache"
    assert config["sphinx"]["config"] == learner["sphinx"]["config"]
    ext = config["sphinx"]["local_extensions"]["instructor_edition"]
    assert (REPO / "_instructor" / "instructor_edition.py").samefile(f"{ext}/instructor_edition.py")
    toc = yaml.safe_load((tmp_path / "_toc.yml").read_text())
    files = json.dumps(toc)
    for a in ASSIGNMENTS:
        assert f"solutions/{a}/{a}" in files and f"exercises/{a}/{a}" in files


def test_instructor_extension_collapses_answer_and_test_cells():
    spec = importlib.util.spec_from_file_location(
        "instructor_edition", REPO / "_instructor" / "instructor_edition.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a = ASSIGNMENTS[0]
    source = [(REPO / "solutions" / a / f"{a}.ipynb").read_text(encoding="utf-8")]
    module._collapse(None, f"solutions/{a}/{a}", source)
    nb = json.loads(source[0])
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader")]
    assert graded and all("hide-input" in c["metadata"]["tags"] for c in graded)
    assert any("Instructor edition" in "".join(c["source"]) for c in nb["cells"])
    untouched = [(REPO / "exercises" / a / f"{a}.ipynb").read_text(encoding="utf-8")]
    before = untouched[0]
    module._collapse(None, f"exercises/{a}/{a}", untouched)
    assert untouched[0] == before
