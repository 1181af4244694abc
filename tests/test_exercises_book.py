"""The exercises in the book: the learner edition shows the releases and never a solution;
the instructor edition's config adds the executed solutions with their cells collapsed."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ASSIGNMENTS, REPO


# Lines that exist only in the instructor's sources (answers, hidden tests): none may reach the
# learner edition, neither in a page's text nor in a downloadable file.
SOLUTION_ONLY = [
    "### BEGIN SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "return float(lam * np.sum(w**2))",
    "grad_w = -2.0 / n * (X.T @ residuals) + 2.0 * lam * w",
    "return (1.0 - 2.0 * lr * lam) * w - lr * grad_data",
    "return np.sign(z) * np.maximum(np.abs(z) - lam, 0.0)",
    "return float(np.sum(d**2 / (d**2 + lam)))",
    '"C6": "misleading",',
    "return 1.0 / (2.0 * n_samples * lam)",
    "best_lam = max(lams[i] for i in tied)",
    "best = at_min[np.argmax(lams[at_min])]",
    "w = np.linalg.lstsq(X - x_bar, y - y.mean(), rcond=None)[0]",
    "w_new = w_decayed - lr * m_hat / (np.sqrt(v_hat) + eps)",
    # seeds of the hidden tests
    "rng = np.random.default_rng(101)",
    "rng = np.random.default_rng(201)",
    "rng = np.random.default_rng(301)",
    "rng = np.random.default_rng(401)",
    "rng = np.random.default_rng(501)",
    "rng = np.random.default_rng(601)",
    "rng = np.random.default_rng(801)",
    "rng = np.random.default_rng(701)",
]


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


def test_sentinels_are_really_in_the_solutions():
    sources = "\n".join("".join(c["source"]) for a in ASSIGNMENTS for c in json.loads(
        (REPO / "solutions" / a / f"{a}.ipynb").read_text(encoding="utf-8"))["cells"])
    missing = [s for s in SOLUTION_ONLY if s not in sources]
    assert not missing, f"update SOLUTION_ONLY: {missing}"


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
    assert config["execute"] == learner["execute"]  # solutions/ are executed, releases are not
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
