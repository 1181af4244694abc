"""The instructor edition (``make book-instructor``): the same book plus the executed solutions.

Built once per run by the ``instructor_book`` fixture through the real Makefile target. The
learner edition's own checks (no solution code leaks into ``_build/html``) live in
``test_exercises_book.py``; the browser checks of these pages live in ``test_browser.py``.
"""

from __future__ import annotations

import html
import re

import pytest

from conftest import ASSIGNMENTS, REPO, BookBuild

pytestmark = pytest.mark.build



def _text(page: str) -> str:
    """Visible text of an HTML page (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_instructor_edition_builds_without_warnings(instructor_book: BookBuild) -> None:
    problems = instructor_book.problems()
    assert instructor_book.returncode == 0, instructor_book.log[-4000:]
    assert not problems, "\n".join(problems)


def test_instructor_edition_executes_no_chapter_again(instructor_book: BookBuild) -> None:
    """The chapters come from the learner edition's jupyter-cache (``make book`` ran first)."""
    executed = re.findall(r"^(\S*/chapters/\S+\.ipynb): Executing notebook", instructor_book.log, re.M)
    assert not executed, f"chapters executed again (cache not shared): {executed}"
    assert re.search(r"/chapters/\S+\.ipynb: Using cached notebook", instructor_book.log)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_page_shows_the_executed_solution_collapsed(
    instructor_book: BookBuild, assignment: str
) -> None:
    """Each solution page has the answer code, inside collapsed cells, and ran without error."""
    page_path = instructor_book.html_dir / "solutions" / assignment / f"{assignment}.html"
    assert page_path.is_file(), f"missing {page_path}"
    page = page_path.read_text(encoding="utf-8")
    text = _text(page)
    assert "BEGIN SOLUTION" in text, "the solution code is not on the page"
    assert "BEGIN HIDDEN TESTS" in text, "the hidden tests are not on the page"
    code = "\n".join(re.findall(r"<pre>(.*?)</pre>", page, flags=re.S))
    assert "raise NotImplementedError()" not in _text(code), "a code cell holds the student stub"
    assert page.count('class="admonition hide above-input"') >= 2, "answer cells are not collapsed"
    assert "traceback" not in page, "a cell of the solution raised when the book executed it"
    assert "Instructor edition" in text


def test_learner_pages_are_in_the_instructor_edition(
    instructor_book: BookBuild, built_book: BookBuild
) -> None:
    """The instructor edition is the learner book plus solutions, not a different book."""
    translations = {p.name for p in (REPO / "locales").iterdir()}  # _build/html/ja: issue 15
    learner = {p.relative_to(built_book.html_dir) for p in built_book.html_dir.rglob("*.html")
               if p.relative_to(built_book.html_dir).parts[0] not in translations}
    instructor = {p.relative_to(instructor_book.html_dir) for p in instructor_book.html_dir.rglob("*.html")}
    missing = sorted(str(p) for p in learner - instructor)
    assert not missing, f"pages of the learner edition missing from the instructor edition: {missing}"
    extra = sorted(str(p) for p in instructor - learner)
    assert all(p.startswith("solutions/") for p in extra), extra


# --------------------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def instructor_visits(instructor_book: BookBuild, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One load of each solution page of the instructor edition in Chromium (served on 127.0.0.1)."""
    from booktools import CHROMIUM, NO_CHROMIUM, launch_persistent, serve
    from test_browser import load, playwright_api

    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    assert instructor_book.returncode == 0, instructor_book.log[-3000:]
    visits = {}
    with serve(instructor_book.html_dir) as base, playwright_api.sync_playwright() as pw:
        context = launch_persistent(
            pw, tmp_path_factory.mktemp("chromium-instructor"),
            viewport={"width": 1280, "height": 900}, service_workers="block",
        )
        try:
            for a in ASSIGNMENTS:
                visits[a] = load(context, f"{base}solutions/{a}/{a}.html")
        finally:
            context.close()
    return visits


@pytest.mark.browser
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_page_in_the_browser(instructor_visits: dict, assignment: str) -> None:
    """Loads with 200, no console error, nothing from another host, maths typeset, axe clean."""
    from test_browser import SERIOUS, _host_ok

    v = instructor_visits[assignment]
    assert v.status == 200
    assert not v.failed_responses and not v.page_errors and not v.console_errors, (
        v.failed_responses, v.page_errors, v.console_errors
    )
    assert not [u for u in v.requests if not _host_ok(u)], "a request left 127.0.0.1"
    assert v.math["count"] > 0 and not v.math["untypeset"] and not v.math["errors"], v.math
    serious = [x for x in v.axe if x["impact"] in SERIOUS]
    assert not serious, f"{assignment}: accessibility violations {serious}"
