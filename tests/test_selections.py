"""An instructor's selection of chapters builds strictly, holds only its pages, and reads right.

``make book CHAPTERS="01 03 04"`` = ``_ext/select_chapters.py`` (a toc and config for the chosen
chapters, their exercises and the shared pages) + the strict ``jupyter-book build``. Here every
chapter is built alone, and one mixed selection with its exercises, each into its own folder with
the same strict flags; then the output is checked: only the selected pages, no dangling or raw
reference, left-out pages linked to the full course, and every "chapter N" / "Exercise N" in the
pages equal to the number the sidebar shows. The full book (``built_book``) gets the numbering
check too, and must contain no link to "the full course".

Cost, kept small: every selection waits for the full book, whose build fills
``_build/.jupyter_cache``; the selections read the executed notebooks from it (the test asserts
that no notebook executes). Each selection is its own test class, so ``--dist loadscope`` spreads
the builds over the workers. The single-chapter builds run without ``node`` on PATH, so
``l2book`` leaves the maths to the browser instead of typesetting it (maths has its own
tests); the mixed selection is built exactly as ``make`` builds it. Measured on the shared
2-core machine (CPU seconds of the build processes, printed with ``-s``): a single chapter 13-15 s
(17.8 s with node), the mixed selection 22 s, the tiny guard book about 15 s: under two CPU
minutes added to ``make test``, with no notebook executed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import resource
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import BIN, JB_FLAGS, REPO, BookBuild, toc_documents, tool_env

pytestmark = pytest.mark.build

_spec = importlib.util.spec_from_file_location("select_chapters", REPO / "_ext" / "select_chapters.py")
select = importlib.util.module_from_spec(_spec)
assert _spec.loader is not None
_spec.loader.exec_module(select)

FULL_TOC = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
CHAPTERS = sorted({k for k in map(select.chapter_of, select.toc_files(FULL_TOC)) if k})
MIXED = [CHAPTERS[0], *CHAPTERS[2:4]]  # "01 03 04": a gap and a run, each with its exercise
BASE_URL = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))["html"]["baseurl"]
RAW_ROLE = re.compile(r"\{(?:doc|ref|tocref|tocnum|numref|eq|glue:text)\}`")
NUMBERED_TEXT = re.compile(r"^\s*(chapter|exercise)\s+(\d+)\b", re.I)


def build_selection(keys: list[str], out: Path, maths: bool) -> tuple[BookBuild, float]:
    """Build the selection ``keys`` into ``out`` as ``make book CHAPTERS=...`` does.

    Returns the build and the CPU seconds it used. ``maths=False`` hides ``node`` from PATH.
    """
    select.write_selection(out, keys)
    env = tool_env()
    if not maths:
        env["PATH"] = str(BIN)
    cmd = [
        str(BIN / "jupyter-book"), "build", str(REPO), *JB_FLAGS, "--builder", "html",
        "--config", str(out / "_config.yml"), "--toc", str(out / "_toc.yml"),
        "--path-output", str(out),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=1200)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    build = BookBuild(
        proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start,
        out / "_build" / "html",
    )
    return build, cpu


def pages(html_dir: Path) -> set[str]:
    """Docnames of the built content pages (Sphinx's own index/search pages aside)."""
    found = {
        p.relative_to(html_dir).with_suffix("").as_posix()
        for p in html_dir.rglob("*.html")
        if "_static" not in p.parts
    }
    return found - {"genindex", "search", "index"}


class _Links(HTMLParser):
    """Links (href, text), the sidebar's entries, and xrefs left outside any link."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, list[str]]] = []
        self.sidebar: list[tuple[str, str]] = []
        self.dangling: list[str] = []
        self._a: list[dict[str, str]] = []
        self._text: list[str] = []
        self._li_toctree = False
        self._xref_outside = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "li" and any(c.startswith("toctree-l") for c in classes):
            self._li_toctree = True
        if tag == "a":
            a["_sidebar"] = "1" if self._li_toctree else ""
            self._li_toctree = False
            self._a.append(a)
            self._text = []
        elif "xref" in classes and not self._a:
            self._xref_outside += 1
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._a:
            a = self._a.pop()
            text = re.sub(r"\s+", " ", "".join(self._text)).strip()
            self.links.append((a.get("href", ""), text, a.get("class", "").split()))
            if a["_sidebar"]:
                self.sidebar.append((a.get("href", ""), text))
        elif tag == "span" and self._xref_outside:
            self._xref_outside -= 1
            self.dangling.append("".join(self._text).strip())

    def handle_data(self, data: str) -> None:
        self._text.append(data)


def parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def resolve(page: Path, html_dir: Path, href: str) -> str | None:
    """The docname an internal ``href`` of ``page`` points to."""
    if not href or re.match(r"^[a-z]+:", href) or href.startswith("#"):
        return None
    target = (page.parent / href.split("#")[0]).resolve()
    try:
        return target.relative_to(html_dir.resolve()).with_suffix("").as_posix()
    except ValueError:
        return None


def sidebar_numbers(html_dir: Path) -> dict[str, tuple[str, str]]:
    """docname → ("chapter"|"exercise", number) as the sidebar of the root page shows them."""
    numbers: dict[str, tuple[str, str]] = {}
    root = html_dir / "intro.html"
    for href, text in parse(root).sidebar:
        doc = resolve(root, html_dir, href)
        chapter = re.match(r"^(\d+)\. ", text)
        exercise = re.match(r"^Exercise (\d+)\b", text)
        if doc and chapter:
            numbers[doc] = ("chapter", chapter.group(1))
        elif doc and exercise:
            numbers[doc] = ("exercise", exercise.group(1))
    return numbers


def numbering_problems(html_dir: Path) -> list[str]:
    """Every "chapter N"/"Exercise N" link and exercise title that disagrees with the sidebar."""
    numbers = sidebar_numbers(html_dir)
    problems = []
    exercises = [d for d, (kind, _) in numbers.items() if kind == "exercise"]
    for position, doc in enumerate(exercises, start=1):
        if numbers[doc][1] != str(position):
            problems.append(f"sidebar: {doc} is exercise {numbers[doc][1]}, listed {position}th")
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts:
            continue
        name = page.relative_to(html_dir).as_posix()
        parsed = parse(page)
        for href, text, classes in parsed.links:
            match = NUMBERED_TEXT.match(text)
            doc = resolve(page, html_dir, href)
            if not match or not doc or "l2book-elsewhere" in classes or doc not in numbers:
                continue
            kind, number = numbers[doc]
            if (match.group(1).lower(), match.group(2)) != (kind, number):
                problems.append(f"{name}: '{text}' links to {doc}, which the sidebar numbers {kind} {number}")
        title = re.search(r"<h1>(.*?)<", page.read_text(encoding="utf-8"), re.S)
        doc = page.relative_to(html_dir).with_suffix("").as_posix()
        if title and doc in numbers and numbers[doc][0] == "exercise":
            if not title.group(1).startswith(f"Exercise {numbers[doc][1]}:"):
                problems.append(f"{name}: title '{title.group(1)}' vs sidebar {numbers[doc]}")
    return problems


def reference_problems(html_dir: Path, left_out: set[str]) -> list[str]:
    """Dangling xrefs, raw roles, and links to the full course that are not to a left-out page."""
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.parts:
            continue
        name = page.relative_to(html_dir).as_posix()
        html = page.read_text(encoding="utf-8")
        parsed = parse(page)
        problems += [f"{name}: dangling reference '{t}'" for t in parsed.dangling]
        text = re.sub(r"<(script|style|pre)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S)
        problems += [f"{name}: raw role '{m}'" for m in RAW_ROLE.findall(text)]
        for href, text_, classes in parsed.links:
            if "l2book-elsewhere" not in classes:
                continue
            doc = href[len(BASE_URL):].split("#")[0].removesuffix(".html") if href.startswith(BASE_URL) else href
            if doc not in left_out:
                problems.append(f"{name}: '{text_}' links to the full course's {href}, not a left-out page")
            if not text_:
                problems.append(f"{name}: empty link to {href}")
    return problems


def test_full_book_numbers_match_its_sidebar(built_book: BookBuild) -> None:
    """In the full book every numbered link and exercise title agrees with the sidebar."""
    assert built_book.returncode == 0, built_book.log[-3000:]
    numbers = sidebar_numbers(built_book.html_dir)
    assert sum(k == "chapter" for k, _ in numbers.values()) == len(CHAPTERS), numbers
    assert not numbering_problems(built_book.html_dir)


def test_full_book_links_nothing_to_the_full_course(built_book: BookBuild) -> None:
    """Inside the full book every reference is an ordinary link: no fallback, nothing dangling."""
    problems = reference_problems(built_book.html_dir, left_out=set())
    assert not problems, "\n".join(problems[:30])
    fallbacks = [
        p.name for p in built_book.html_dir.rglob("*.html")
        if "l2book-elsewhere" in p.read_text(encoding="utf-8")
    ]
    assert not fallbacks, f"pages of the full book linking to 'the full course': {fallbacks}"


@pytest.fixture(scope="class")
def selection(
    request: pytest.FixtureRequest, built_book: BookBuild, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BookBuild, set[str], set[str]]:
    """The build of the test class's selection, the pages it keeps and the pages it leaves out."""
    keys, maths = request.cls.keys, request.cls.maths
    assert built_book.returncode == 0, "the full book must build first (it fills the cache)"
    out = tmp_path_factory.mktemp("selection-" + "-".join(keys))
    build, cpu = build_selection(keys, out, maths)
    print(f"\nselection {' '.join(keys)}: {build.seconds:.0f} s wall, {cpu:.0f} s CPU")
    selected = yaml.safe_load((out / "_toc.yml").read_text(encoding="utf-8"))
    kept = set(select.toc_files(selected))
    return build, kept, set(toc_documents()) - kept


class _SelectionChecks:
    """The checks one selection must pass; subclasses (one per selection) set ``keys``."""

    keys: list[str] = []
    maths = False

    def test_builds_strictly_without_executing(self, selection) -> None:
        build, kept, _ = selection
        assert build.returncode == 0, build.log[-4000:]
        assert not build.problems(), "\n".join(build.problems())
        assert "Executing notebook" not in build.log, "a notebook ran again: cache not shared"
        chapters = [d for d in kept if d.startswith("chapters/") and select.chapter_of(d)]
        assert build.log.count("Using cached notebook") >= len(chapters), build.log[-3000:]

    def test_only_selected_pages_are_published(self, selection) -> None:
        build, kept, left_out = selection
        built = pages(build.html_dir)
        assert built == kept, f"extra: {sorted(built - kept)}, missing: {sorted(kept - built)}"
        assert {select.chapter_of(d) for d in kept} - {None} == set(self.keys)
        exercises = {d for d in toc_documents() if d.startswith("exercises/ex")}
        for key in self.keys:
            mine = {d for d in exercises if select.chapter_of(d) == key}
            assert mine <= kept, f"chapter {key} without its exercise {mine - kept}"
        assert left_out and not (left_out & built)

    def test_no_dangling_reference(self, selection) -> None:
        build, _, left_out = selection
        problems = reference_problems(build.html_dir, left_out)
        assert not problems, "\n".join(problems[:30])
        # Shared pages name left-out chapters: those names became links to the full course.
        glossary = parse(build.html_dir / "chapters" / "glossary.html")
        fallbacks = [(h, t) for h, t, c in glossary.links if "l2book-elsewhere" in c]
        assert fallbacks and all(h.startswith(BASE_URL) and t for h, t in fallbacks)

    def test_numbers_match_the_sidebar(self, selection) -> None:
        build, _, _ = selection
        numbers = sidebar_numbers(build.html_dir)
        chapters = sorted((int(n), d) for d, (k, n) in numbers.items() if k == "chapter")
        assert [n for n, _ in chapters] == list(range(1, len(self.keys) + 1))
        assert [select.chapter_of(d) for _, d in chapters] == self.keys
        assert not numbering_problems(build.html_dir)


for _key in CHAPTERS:
    globals()[f"TestChapter{_key}Alone"] = type(
        f"TestChapter{_key}Alone", (_SelectionChecks,), {"keys": [_key]}
    )


class TestMixedSelection(_SelectionChecks):
    """The issue's example, built exactly as make does (maths typeset by node when present)."""

    keys = MIXED
    maths = True

    def test_left_out_chapter_is_named_by_title(self, selection) -> None:
        build, _, left_out = selection
        page = parse(build.html_dir / "chapters" / "01_overview.html")
        gone = sorted(d for d in left_out if d.startswith("chapters/"))
        titles = {h: t for h, t, c in page.links if "l2book-elsewhere" in c}
        assert titles, "chapter 1 names later chapters; none is linked to the full course"
        for href, text in titles.items():
            assert not NUMBERED_TEXT.match(text), f"a left-out page keeps a number: {text}"
            assert any(href.startswith(f"{BASE_URL}{d}.html") for d in gone), href


# --- the command itself: clear errors, nothing typed ---------------------------------------


def test_unknown_chapter_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "python"), str(REPO / "_ext" / "select_chapters.py"), str(tmp_path), "01", "42"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "no chapter 42" in proc.stderr and " ".join(CHAPTERS) in proc.stderr
    assert not (tmp_path / "_toc.yml").exists()


def test_selection_toc_keeps_shared_pages_and_drops_empty_parts(tmp_path: Path) -> None:
    left_out = select.write_selection(tmp_path, ["1"])
    toc = yaml.safe_load((tmp_path / "_toc.yml").read_text(encoding="utf-8"))
    kept = list(select.toc_files(toc))
    shared = [d for d in toc_documents() if select.chapter_of(d) is None]
    assert [d for d in kept if select.chapter_of(d) is None] == shared
    assert {select.chapter_of(d) for d in kept} == {None, CHAPTERS[0]}
    assert set(left_out) == set(toc_documents()) - set(kept)
    assert all(part.get("chapters") for part in toc["parts"])
    config = yaml.safe_load((tmp_path / "_config.yml").read_text(encoding="utf-8"))
    elsewhere = config["sphinx"]["config"]["l2book_elsewhere"]
    assert set(elsewhere["docs"]) == set(left_out) and elsewhere["url"] == BASE_URL
    assert all(title and "{" not in title for title in elsewhere["docs"].values())
    for name, path in config["sphinx"]["local_extensions"].items():
        module = tmp_path / path / name
        assert module.with_suffix(".py").is_file() or (module / "__init__.py").is_file(), (name, path)
    assert "baseurl" not in config.get("html", {}), "a selection must not claim the full course's URLs"


TYPED_NUMBER = re.compile(r"\b(?:chapters?|exercises?)\s+\d", re.I)


def _markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        import json

        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def test_no_chapter_or_exercise_number_is_typed() -> None:
    """Prose names chapters and exercises with {tocref}/{tocnum}, so a selection renumbers it."""
    files = [REPO / "intro.md", REPO / "exercises" / "index.md"]
    files += sorted((REPO / "chapters").glob("*.md")) + sorted((REPO / "chapters").glob("*.ipynb"))
    files += sorted((REPO / "exercises").glob("*/*.ipynb"))
    files += sorted((REPO / "solutions").glob("*/*.ipynb"))
    typed = [
        f"{path.relative_to(REPO)}: …{line.strip()[:90]}"
        for path in files
        for line in _markdown_of(path).splitlines()
        if TYPED_NUMBER.search(line)
    ]
    assert not typed, "type {tocref}`chapter {number} <doc>` instead:\n" + "\n".join(typed)


def test_a_selection_still_fails_on_a_real_broken_reference(tmp_path: Path) -> None:
    """Left-out targets become links; a target that exists nowhere still fails the strict build.

    One tiny book (markdown only, the course's config and extensions) whose selection catalogue
    knows the page ``gone``: ``{doc}`gone``` and ``{tocref}`gone``` render as links to the full
    course, ``{tocref}`page``` as "chapter 1", while ``{ref}`nowhere``` must warn and fail.
    """
    book = tmp_path / "book"
    book.mkdir()
    for folder in ("_static", "_ext"):
        shutil.copytree(REPO / folder, book / folder)
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    config.pop("bibtex_bibfiles", None)
    config["sphinx"]["config"].pop("bibtex_reference_style", None)
    config["sphinx"]["config"]["l2book_elsewhere"] = {
        "url": BASE_URL, "docs": {"gone": "A left-out chapter"}, "labels": {},
    }
    (book / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: Chapters\n    numbered: true\n"
        "    chapters:\n      - file: page\n"
    )
    (book / "intro.md").write_text("# Intro\n\nRead {tocref}`page` and {tocref}`gone`.\n")
    (book / "page.md").write_text("# Page\n\nSee {doc}`gone` and {ref}`nowhere`.\n")
    proc = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(book), *JB_FLAGS, "--builder", "html"],
        capture_output=True, text=True, env=tool_env(), cwd=book, timeout=600,
    )
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert proc.returncode != 0, log[-3000:]
    assert any("nowhere" in w for w in warnings), warnings
    assert not any("gone" in w for w in warnings), warnings
    html = book / "_build" / "html"
    intro = parse(html / "intro.html")
    texts = {t: (h, c) for h, t, c in intro.links}
    assert "chapter 1" in texts and not texts["chapter 1"][0].startswith("http")
    assert texts["A left-out chapter"] == (f"{BASE_URL}gone.html", ["l2book-elsewhere", "reference", "external"])


def test_make_book_builds_a_selection_from_scratch_and_plain_book_everything() -> None:
    """The Makefile's recipe (dry run): a fresh selection folder, the strict build, a clean copy."""
    def dry(*args: str) -> list[str]:
        proc = subprocess.run(
            ["make", "-n", "--no-print-directory", *args], capture_output=True, text=True,
            cwd=REPO, env={**tool_env(), "CHAPTERS": ""},
        )
        assert proc.returncode == 0, proc.stderr
        return [line for line in proc.stdout.splitlines() if line and not line.startswith("echo")]

    selection = dry("book", "CHAPTERS=01 03 04")
    steps = [next(i for i, line in enumerate(selection) if word in line) for word in (
        "rm -rf _build/.selection", "select_chapters.py _build/.selection 01 03 04",
        "jupyter-book build", "rm -rf _build/html")]
    assert steps == sorted(steps), selection
    build = selection[steps[2]]
    assert all(f in build for f in (*JB_FLAGS, "--toc _build/.selection/_toc.yml",
                                    "--config _build/.selection/_config.yml"))
    plain = [line for line in dry("book") if "jupyter-book" in line and "--config" not in line]
    assert len(plain) == 1 and plain[0].endswith(f"/jupyter-book build . {' '.join(JB_FLAGS)} --builder html")


def test_typed_number_guard_bites() -> None:
    """The guard above flags a typed number and lets the roles through."""
    assert TYPED_NUMBER.search("as chapter 2 explains") and TYPED_NUMBER.search("Exercise 3: ...")
    assert not TYPED_NUMBER.search("{tocref}`chapter {number} <02_mechanism>` explains")
    assert not TYPED_NUMBER.search("# Exercise {tocnum}`ex01-penalty`: the penalty")
