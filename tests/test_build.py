"""The learner edition builds with no warning, offline, and the build's guards really fail.

`make book` uses ``jupyter-book build -W -n --keep-going`` with myst-nb's
``nb_execution_raise_on_error``; the tests below prove those guards bite by building tiny books
(with the course's own ``_config.yml``) that contain one deliberate fault each.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml

from conftest import REPO, BookBuild, build_book, toc_documents, tool_env

pytestmark = pytest.mark.build


def test_book_builds_without_warnings(built_book: BookBuild) -> None:
    """The real book builds with -W -n --keep-going: exit 0 and no WARNING/ERROR line."""
    problems = built_book.problems()
    assert built_book.returncode == 0, built_book.log[-4000:]
    assert not problems, "\n".join(problems)


def test_every_toc_page_is_built(built_book: BookBuild) -> None:
    """Each page listed in _toc.yml exists in the HTML output."""
    missing = [f for f in toc_documents() if not (built_book.html_dir / f"{f}.html").exists()]
    assert not missing, f"pages in _toc.yml missing from the build: {missing}"


class _ResourceCollector(HTMLParser):
    """Collect URLs of resources a page *loads* (not plain hyperlinks)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"script", "img", "iframe", "audio", "video", "source", "embed"} and a.get("src"):
            self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "preload", "icon", "modulepreload", "prefetch", "preconnect", "dns-prefetch")):
                self.urls.append(a["href"] or "")
        if tag == "object" and a.get("data"):
            self.urls.append(a["data"] or "")


def _third_party(url: str) -> bool:
    parsed = urlparse(url.strip())
    return bool(parsed.netloc) or url.strip().startswith("//")


def test_no_page_loads_from_a_third_party_host(built_book: BookBuild) -> None:
    """No built HTML page or stylesheet asks another host for a script, style, font or image."""
    offenders: list[str] = []
    for page in sorted(built_book.html_dir.rglob("*.html")):
        collector = _ResourceCollector()
        collector.feed(page.read_text(encoding="utf-8", errors="replace"))
        for url in collector.urls:
            if _third_party(url):
                offenders.append(f"{page.relative_to(built_book.html_dir)}: {url}")
    for css in sorted(built_book.html_dir.rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(errors="replace")):
            if _third_party(url):
                offenders.append(f"{css.relative_to(built_book.html_dir)}: {url}")
        for url in re.findall(r"@import\s+['\"]([^'\"]+)", css.read_text(errors="replace")):
            if _third_party(url):
                offenders.append(f"{css.relative_to(built_book.html_dir)}: {url}")
    assert not offenders, "third-party resources:\n" + "\n".join(offenders[:50])


def test_mathjax_is_served_from_the_book(built_book: BookBuild) -> None:
    """Maths comes from the book's own vendored MathJax 3, never from a CDN.

    With Node on PATH the build typesets it (``_ext/l2book/maths.py``): the page holds MathJax's
    CHTML markup with its MathML, links ``_static/mathjax/chtml.css`` and loads no MathJax script;
    the woff fonts that stylesheet names are in the build. Without Node, the page loads MathJax
    from ``_static/``.
    """
    html = built_book.html_dir
    page = (html / "chapters" / "notation.html").read_text()
    cdn = re.findall(r"https?://[^\"' )]*mathjax[^\"' )]*", page, flags=re.I)
    assert not cdn, f"MathJax from a CDN: {cdn}"
    srcs = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', page, flags=re.I)
    assert all(not _third_party(s) and "_static/" in s for s in srcs), srcs
    if shutil.which("node") is None:
        assert srcs, "no MathJax script on the notation page"
        target = (html / "chapters" / srcs[0].split("?")[0]).resolve()
        assert target.is_file(), f"MathJax script {srcs[0]} is not in the build"
        return
    assert not srcs, f"maths typeset at build time, yet MathJax scripts are loaded: {srcs}"
    assert "window.MathJax" not in page
    assert page.count("<mjx-container") >= 20, "the notation page has no typeset maths"
    assert page.count("<mjx-assistive-mml") == page.count("<mjx-container"), "MathML missing"
    assert not re.search(r'class="math notranslate nohighlight"[^>]*>\s*\\[(\[]', page), "raw TeX left"
    links = re.findall(r'<link[^>]+href="([^"]*mathjax[^"]*\.css)"', page)
    assert links == ["../_static/mathjax/chtml.css"], links
    css_file = (html / "chapters" / links[0]).resolve()
    css = css_file.read_text()
    fonts = re.findall(r'url\("?([^")]+\.woff)"?\)', css)
    assert fonts, "the CHTML stylesheet names no font"
    missing = [f for f in fonts if not (css_file.parent / f).is_file()]
    assert not missing, f"fonts named by chtml.css but not in the build: {missing}"
    for f in fonts:
        assert not _third_party(f), f


# --- the guards: a tiny book with one fault must fail the build -----------------------------


def _tiny_book(tmp_path: Path, cells: list, extra_md: str = "") -> Path:
    """A two-page book using the course's real _config.yml and one notebook made of ``cells``."""
    book = tmp_path / "book"
    book.mkdir()
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)
    config["sphinx"]["extra_extensions"] = [
        e for e in config["sphinx"].get("extra_extensions", []) if e == "sphinx_exercise"
    ]
    config["sphinx"]["config"].pop("bibtex_reference_style", None)
    (book / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (book / "intro.md").write_text("# Intro\n\nA tiny book.\n" + extra_md)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Page")] + cells
    nbformat.write(nb, book / "page.ipynb")
    shutil.copytree(REPO / "_static", book / "_static")
    if (REPO / "_ext").is_dir():
        shutil.copytree(REPO / "_ext", book / "_ext")
    return book


def test_tiny_book_control_builds(tmp_path: Path) -> None:
    """Control: the tiny book with no fault builds, so the failures below are the faults'."""
    book = _tiny_book(tmp_path, [nbformat.v4.new_code_cell("print(1 + 1)")])
    result = build_book(book, timeout=600)
    assert result.returncode == 0, result.log[-3000:]


def test_a_broken_cell_fails_the_build(tmp_path: Path) -> None:
    """A code cell that raises makes the build exit non-zero."""
    book = _tiny_book(tmp_path, [nbformat.v4.new_code_cell("1 / 0")])
    result = build_book(book, timeout=600)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.log


def test_an_undefined_reference_fails_the_build(tmp_path: Path) -> None:
    """A {ref} to a label that does not exist makes the build exit non-zero."""
    book = _tiny_book(
        tmp_path,
        [nbformat.v4.new_code_cell("print(2)")],
        extra_md="\nSee {ref}`no-such-label`.\n",
    )
    result = build_book(book, timeout=600)
    assert result.returncode != 0
    assert "no-such-label" in result.log


@pytest.mark.skipif(shutil.which("node") is None, reason="maths is typeset at build time only with Node")
def test_a_tex_error_fails_the_build(tmp_path: Path) -> None:
    """A formula MathJax cannot typeset fails the build, naming the page and the formula."""
    book = _tiny_book(
        tmp_path,
        [nbformat.v4.new_markdown_cell("Good $x^2$, bad $\\frac{1}{2$ and $\\nosuchmacro y$.")],
    )
    result = build_book(book, timeout=600)
    assert result.returncode != 0
    assert "page.html" in result.log and "Missing close brace" in result.log
    assert "Undefined control sequence \\nosuchmacro" in result.log


@pytest.mark.skipif(shutil.which("node") is None, reason="maths is typeset at build time only with Node")
def test_a_formula_showing_a_backslash_fails_the_build(tmp_path: Path) -> None:
    """TeX that MathJax leaves as text (``\\_`` inside ``\\texttt``) fails the build (issue 22).

    MathJax 3 typesets ``\\texttt{l1\\_ratio}`` without an error, as "l1\\_ratio"; the same
    name in math mode (``\\mathtt``) and ``\\backslash`` (drawn as U+2216) are fine.
    """
    good = "Fine: $\\rho = \\mathtt{l1\\_ratio}$ and $A \\backslash B$."
    book = _tiny_book(
        tmp_path, [nbformat.v4.new_markdown_cell(good + " Bad: $\\rho = \\texttt{l1\\_ratio}$.")]
    )
    result = build_book(book, timeout=600)
    assert result.returncode != 0
    assert "page.html" in result.log and "shows literal TeX: \\_" in result.log
    assert "\\\\texttt{l1\\\\_ratio}" in result.log
    assert "1 formula(s)" in result.log, "a correct formula was reported as well"


def test_a_changed_printed_number_fails_nbval(tmp_path: Path) -> None:
    """nbval strict fails a notebook whose stored output no longer matches what the code prints."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("print(round(2 / 3, 3))", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0.667\n")]
    nb.cells = [cell]
    good = tmp_path / "good.ipynb"
    nbformat.write(nb, good)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0.668\n")]
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "--nbval", "--nbval-current-env", "--rootdir", str(tmp_path)]
    ok = subprocess.run(cmd + [str(good)], capture_output=True, text=True, cwd=tmp_path, env=tool_env())
    ko = subprocess.run(cmd + [str(bad)], capture_output=True, text=True, cwd=tmp_path, env=tool_env())
    assert ok.returncode == 0, ok.stdout[-2000:]
    assert ko.returncode != 0
    assert "0.668" in ko.stdout and "0.667" in ko.stdout


def test_a_rebuild_does_not_overwrite_data(tmp_path: Path) -> None:
    """The book's post-processing (purged CSS, palette PNGs) never makes Sphinx report that it
    overwrites data: not on an unchanged rebuild, nor when a page with a figure is rewritten."""
    import random

    from PIL import Image

    rng = random.Random(0)
    colours = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(40)]
    figure = Image.new("RGB", (240, 120))
    figure.putdata([rng.choice(colours) for _ in range(240 * 120)])  # few colours: a palette wins
    book = _tiny_book(tmp_path, [nbformat.v4.new_code_cell("print(1 + 1)")],
                      extra_md="\n```{image} figure.png\n:alt: stripes\n```\n")
    figure.save(book / "figure.png")
    first = build_book(book, timeout=600)
    assert first.returncode == 0, first.log[-3000:]
    assert (book / "_build" / "html" / "_images" / "figure.png").read_bytes() != (
        book / "figure.png").read_bytes()  # the PNG was re-encoded in the output (control)
    unchanged = build_book(book, timeout=600)
    (book / "intro.md").write_text((book / "intro.md").read_text() + "\nEdited.\n")
    edited = build_book(book, timeout=600)
    for result in (unchanged, edited):
        assert result.returncode == 0, result.log[-3000:]
        assert "will overwrite data" not in result.log, result.log
