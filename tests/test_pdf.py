"""The printed edition (issue 22): ``make pdf`` loses no code, keeps the Japanese, fits the paper.

``make pdf`` (single-page build, then ``_ext/print_pdf.py`` in Debian's Chromium with the print
styles of ``_ext/print_pdf.css``) is run once per test run, after the learner edition has been
built (so the notebooks' outputs come from the jupyter-cache, not a second execution). Poppler's
``pdftotext`` then reads the PDF as a reader's copy-and-paste would:

* every non-blank source line of every code cell of every notebook under ``chapters/`` and
  ``exercises/`` (found in the folders, so new chapters are covered) appears whole, whitespace
  ignored. Before the print styles, 69 % of the 2,699 lines did and none of the 631 longer than
  75 characters: the rest was cut at the right margin.
* every Japanese term of the glossary's tables is there, as written (reading included);
* every page is A4, and no word lies outside its page.

Two pages (the longest code line's and the glossary's) are saved as PNG next to the browser
suite's screenshots, in ``_build/screenshots/pdf/``. Measured cost on 2 cores shared with seven
other builds (load 11-13): ``make pdf`` with the cache warm 4.5-6 min (single-page build, then
printing 1-3 min); the checks ~10 s (``pdftotext -bbox`` of ~100 pages).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from booktools import CHROMIUM, NO_CHROMIUM
from conftest import REPO, tool_env, toc_documents

pytestmark = [pytest.mark.build, pytest.mark.browser]

PDF = REPO / "_build" / "pdf" / "book.pdf"
SHOTS = REPO / "_build" / "screenshots" / "pdf"
A4_PT = (595.28, 841.89)
FOOTER = re.compile(r".*\d+ / \d+")
PRIVATE_USE = re.compile("[\ue000-\uf8ff]+")
# MathJax also draws a stretched rule (a square root's bar, \overline, a long arrow's shaft) as one dash or minus
# glyph scaled to the width; pdftotext reports the unscaled glyph's box, far wider than what is painted.
STRETCHED_RULE = re.compile("[\u2013\u2014\u2212\u203e\u2500]")
REMOVED = {"remove-cell", "remove-input"}  # myst-nb tags that keep a cell's source off the page


@dataclass(frozen=True)
class Printed:
    """Outcome of one ``make pdf``."""

    returncode: int
    log: str
    seconds: float


@pytest.fixture(scope="module")
def printed_book(built_book) -> Printed:
    """``make pdf``, once per test run (after the HTML build, whose cache it reuses)."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext, pdfinfo, pdftoppm) is not installed")
    PDF.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(
        ["make", "--no-print-directory", "pdf"],
        capture_output=True, text=True, env=tool_env(), cwd=REPO, timeout=1800,
    )
    return Printed(proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start)


WORD = re.compile(
    r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="[-\d.]+">([^<]*)</word>'
)


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    words: list[tuple[float, float, float, str]]  # xMin, yMin, xMax, text

    def lines(self) -> list[str]:
        """The page's text line by line, top to bottom, each left to right, from the words'
        positions (not the order Chromium painted them: it paints maths and other positioned
        boxes last, which would tear a code line that runs on past them)."""
        rows: list[list[tuple[float, float, float, str]]] = []
        for word in sorted(self.words, key=lambda w: (w[1], w[0])):
            if rows and abs(word[1] - rows[-1][0][1]) < 2.0:
                rows[-1].append(word)
            else:
                rows.append([word])
        return [" ".join(w[3] for w in sorted(row)) for row in rows]


def read_pages(pdf: Path) -> list[Page]:
    """Every page's size and words, from ``pdftotext -bbox``."""
    xml = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-bbox", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    pages = []
    for chunk in xml.split("<page ")[1:]:
        size = re.match(r'width="([\d.]+)" height="([\d.]+)"', chunk)
        words = [
            (float(x0), float(y0), float(x1), html.unescape(text))
            for x0, y0, x1, text in WORD.findall(chunk)
        ]
        pages.append(Page(float(size.group(1)), float(size.group(2)), words))
    return pages


@pytest.fixture(scope="module")
def pages(printed_book: Printed) -> list[Page]:
    assert printed_book.returncode == 0, printed_book.log[-4000:]
    assert PDF.is_file(), "make pdf wrote no _build/pdf/book.pdf"
    return read_pages(PDF)


def book_text(pages: list[Page]) -> str:
    """The whole text in reading order, without the running foot ("<title>  12 / 104"), so that
    a code line broken across two pages reads as one line."""
    out = []
    for page in pages:
        lines = page.lines()
        if lines and FOOTER.fullmatch(lines[-1]):
            lines = lines[:-1]
        out.append("\n".join(lines))
    return "\f".join(out)


@pytest.fixture(scope="module")
def pdf_text(pages: list[Page]) -> str:
    return book_text(pages)


@pytest.fixture(scope="module")
def painted_text(pages: list[Page]) -> str:
    """The text in the order Chromium painted it (``pdftotext -raw``): a table cell's lines stay
    together, where reading by position would interleave the cells of a row."""
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-raw", str(PDF), "-"],
        capture_output=True, text=True, check=True,
    ).stdout


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def notebooks() -> list[Path]:
    """Every chapter and exercise notebook, from the folders (not from a list)."""
    return sorted(REPO.glob("chapters/*.ipynb")) + sorted(REPO.glob("exercises/*/*.ipynb"))


def code_lines(path: Path) -> list[str]:
    """The non-blank source lines of the code cells a reader sees on the page."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    lines = []
    for cell in nb["cells"]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "code" and not tags & REMOVED:
            lines += [x for x in "".join(cell["source"]).splitlines() if x.strip()]
    return lines


def test_make_pdf_succeeds(printed_book: Printed) -> None:
    assert printed_book.returncode == 0, printed_book.log[-4000:]
    print(f"make pdf: {printed_book.seconds:.0f} s, {PDF.stat().st_size / 1e6:.1f} MB")


def test_every_code_line_is_whole(pdf_text: str) -> None:
    """No code is cut at the margin: each line of each notebook's code is in the PDF's text."""
    flat = _flat(pdf_text)
    in_book = set(toc_documents())
    missing: dict[str, list[str]] = {}
    total = 0
    for path in notebooks():
        lines = code_lines(path)
        total += len(lines)
        lost = [line for line in lines if _flat(line) not in flat]
        if lost:
            doc = path.relative_to(REPO).with_suffix("").as_posix()
            note = "" if doc in in_book else " (not in _toc.yml, so not in the book)"
            missing[f"{doc}{note}"] = lost
    assert total > 1000, f"only {total} code lines found: are the notebooks there?"
    lost_n = sum(len(v) for v in missing.values())
    report = "\n".join(f"{doc}: {len(v)} lines, e.g. {v[0]!r}" for doc, v in missing.items())
    assert not missing, f"{lost_n} of {total} code lines are not whole in the PDF:\n{report}"


def glossary_terms() -> list[str]:
    """The Japanese cells of the glossary's tables (column "日本語"), as written."""
    terms = []
    for table in re.split(r"\n\s*\n", (REPO / "chapters" / "glossary.md").read_text(encoding="utf-8")):
        rows = [r for r in table.splitlines() if r.startswith("|")]
        if not rows:
            continue
        header = [c.strip() for c in rows[0].strip("|").split("|")]
        column = next((i for i, c in enumerate(header) if "日本語" in c), None)
        if column is None:
            continue
        for row in rows[2:]:
            cell = row.strip("|").split("|")[column]
            terms.append(re.sub(r"[`*]", "", cell).strip())
    return terms


def test_japanese_glossary_terms_are_printed(painted_text: str) -> None:
    """Each Japanese cell of the glossary, reading included, is in the PDF as written."""
    terms = glossary_terms()
    assert len(terms) >= 20, f"only {len(terms)} Japanese glossary terms found in glossary.md"
    flat = _flat(painted_text)
    missing = [t for t in terms if _flat(t) not in flat]
    assert not missing, f"Japanese glossary terms missing or garbled in the PDF: {missing}"


def test_pages_fit_the_paper(pages: list[Page]) -> None:
    """Every page is A4 portrait and every word lies on its page (nothing runs off the edge)."""
    wrong = {
        (p.width, p.height)
        for p in pages
        if abs(p.width - A4_PT[0]) > 2 or abs(p.height - A4_PT[1]) > 2
    }
    assert not wrong, f"pages that are not A4 portrait (points): {wrong}"
    off = [
        f"page {number}: {text!r} at x = {x0:.0f}..{x1:.0f} of {page.width:.0f} pt"
        for number, page in enumerate(pages, start=1)
        for x0, _, x1, text in page.words
        # A private-use glyph is a piece, e.g. MathJax's stretched brace extender (scaled box).
        if not PRIVATE_USE.fullmatch(text)
        and not (STRETCHED_RULE.fullmatch(text) and 0 < (x0 + x1) / 2 < page.width)
        and (x0 < 0 or x1 > page.width + 0.5)
    ]
    assert not off, f"{len(off)} words run off the page:\n" + "\n".join(off[:20])


def _page_of(needle: str, pages: list[str]) -> int:
    start = _flat(needle)[:40]  # a long line may run on to the next page
    return next(i for i, text in enumerate(pages, start=1) if start in _flat(text))


def test_two_pages_are_saved_as_images(pdf_text: str, painted_text: str) -> None:
    """The page with the longest code line and the first glossary page, as PNG screenshots."""
    longest = max((line for nb in notebooks() for line in code_lines(nb)), key=len)
    chosen = {
        "code": _page_of(longest, pdf_text.split("\f")),
        "glossary": _page_of(glossary_terms()[0], painted_text.split("\f")),
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, number in chosen.items():
        for old in SHOTS.glob(f"{name}-page-*.png"):
            old.unlink()
        stem = SHOTS / f"{name}-page-{number}"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", "-f", str(number), "-l", str(number),
             str(PDF), str(stem)],
            check=True,
        )
        png = stem.with_suffix(".png")
        assert png.is_file() and png.stat().st_size > 10_000, f"no page image at {png}"
