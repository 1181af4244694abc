"""Exercise notebooks in another language, graded against the same source as the English ones.

nbgrader restores every locked and graded cell from the instructor's source before it runs a
submission, so the test code must be the same in every language; only what the code *prints*
may differ. The mechanism:

* **Messages are marked.** In a source notebook's graded cells, every message a learner reads is
  an English literal that the tests pass through ``_tr(text, **values)`` (the helpers cell
  defines it; ``check()`` passes its label, the mistake's description and the section to read
  through it, and ``SEE``'s values are messages too). ``_tr`` returns the text in the notebook's
  language with ``values`` filled in (``str.format``); untranslated text stays English.
* **Catalogs.** ``locales/<lang>/feedback/<assignment>.po`` holds their translations (gettext PO,
  edited like the book's catalogs). ``sync`` extracts the messages from the source (Python AST:
  ``_tr("...")``, ``check("label", ..., mistakes={"...": ...}, see="...")`` and ``SEE = {...}``),
  updates every language's catalog (new messages empty, vanished ones dropped, translations
  kept) and writes the translations into the helpers cell between ``BLOCK_BEGIN``/``BLOCK_END``:
  those of visible tests in the open, those of hidden tests inside ``### BEGIN HIDDEN TESTS``,
  so the release shows no hidden message and the grader, which restores the helpers cell from
  the source, has them all.
* **The notebook's language.** A translated release (:func:`translate_release`) starts with an
  unlocked, ungraded cell ``L2COURSE_LANGUAGE = "ja"`` (nbgrader leaves such a cell as the
  learner has it, and runs it) and records ``metadata.l2course.language``; its markdown cells
  are the book page's translation (the page's catalog ``locales/<lang>/LC_MESSAGES/exercises/
  <a>/<a>.po``: paragraphs, headings, list items and table cells). The helpers cell reads
  ``L2COURSE_LANGUAGE`` (else the environment variable of that name, else English). So a learner
  running the Japanese notebook, ``l2course check`` and ``l2course grade`` all print the
  feedback in Japanese, from the same source.

  python -m l2course.translate sync ASSIGNMENT [--course-dir DIR]
  python -m l2course.translate release ASSIGNMENT LANG OUT.ipynb [--course-dir DIR]

Cost: parsing a handful of cells and PO files, milliseconds.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
from nbformat import NotebookNode

BLOCK_BEGIN = "# --- feedback messages by language (python -m l2course.translate sync; do not edit) ---"
BLOCK_END = "# --- end of feedback messages ---"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
LANGUAGE_VARIABLE = "L2COURSE_LANGUAGE"
LANGUAGE_CELL = {
    "ja": "# 言語の設定：テストのメッセージを日本語で表示します（このセルを最初に実行してください）。\n"
          f'{LANGUAGE_VARIABLE} = "ja"',
}


# -- extraction ---------------------------------------------------------------------------
def _source(cell: NotebookNode) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _graded_cells(nb: NotebookNode) -> Iterator[NotebookNode]:
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade") or meta.get("locked")):
            yield cell


def _line_ranges(code: str, begin: str, end: str) -> list[tuple[int, int]]:
    """1-based inclusive line ranges between ``begin`` and ``end`` marker lines."""
    ranges, start = [], None
    for number, line in enumerate(code.splitlines(), start=1):
        if line.strip() == begin:
            start = number
        elif line.strip() == end and start is not None:
            ranges.append((start, number))
            start = None
    return ranges


def _strings(node: ast.AST | None) -> Iterator[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node


def _messages_in(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "_tr" and node.args:
                yield from _strings(node.args[0])
            elif node.func.id == "check":
                if node.args:
                    yield from _strings(node.args[0])
                for keyword in node.keywords:
                    if keyword.arg == "see":
                        yield from _strings(keyword.value)
                    if keyword.arg == "mistakes" and isinstance(keyword.value, ast.Dict):
                        for key, value in zip(keyword.value.keys, keyword.value.values):
                            yield from _strings(key)
                            if isinstance(value, ast.Tuple) and len(value.elts) == 2:
                                yield from _strings(value.elts[1])
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                isinstance(t, ast.Name) and t.id == "SEE" for t in node.targets):
            for value in node.value.values:
                yield from _strings(value)


def feedback_messages(nb: NotebookNode) -> tuple[list[str], list[str]]:
    """The messages of ``nb``'s graded cells: (visible, hidden), each in order of appearance."""
    visible: list[str] = []
    hidden: list[str] = []
    for cell in _graded_cells(nb):
        code = _source(cell)
        hidden_lines = _line_ranges(code, HIDDEN_BEGIN, HIDDEN_END)
        generated = _line_ranges(code, BLOCK_BEGIN, BLOCK_END)
        for const in _messages_in(ast.parse(code)):
            line = const.lineno
            if any(a <= line <= b for a, b in generated):
                continue
            target = hidden if any(a <= line <= b for a, b in hidden_lines) else visible
            if const.value not in target:
                target.append(const.value)
    hidden = [m for m in hidden if m not in visible]
    return visible, hidden


# -- catalogs -------------------------------------------------------------------------------
def catalog_path(course_root: Path, language: str, assignment: str) -> Path:
    return course_root / "locales" / language / "feedback" / f"{assignment}.po"


def languages(course_root: Path) -> list[str]:
    """Every language with a folder under ``locales/``."""
    folder = course_root / "locales"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def read_catalog(path: Path) -> dict[str, str]:
    """msgid → msgstr of the translated, non-fuzzy messages of a PO file ({} if missing)."""
    from babel.messages.pofile import read_po

    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle)
                if m.id and m.string and not m.fuzzy}


def update_catalog(path: Path, language: str, messages: list[str]) -> None:
    """Make ``path`` hold exactly ``messages`` (translations and fuzzy flags kept)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    old = None
    if path.is_file():
        with path.open("rb") as handle:
            old = read_po(handle)
    new = Catalog(locale=language, project="l2course feedback", fuzzy=False,
                  creation_date=old.creation_date if old is not None else None)
    for text in messages:
        previous = old.get(text) if old is not None else None
        new.add(text, previous.string if previous else "",
                flags=previous.flags if previous else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, new, width=0, omit_header=False, no_location=True)


def message_block(tables: dict[str, tuple[dict[str, str], dict[str, str]]]) -> str:
    """The generated part of the helpers cell: visible translations, then hidden ones."""
    lines = [BLOCK_BEGIN]
    for language, (visible, hidden) in sorted(tables.items()):
        lines.append(f"MESSAGES[{language!r}] = {{")
        lines += [f"    {k!r}: {v!r}," for k, v in visible.items()]
        lines.append("}")
        if hidden:
            lines.append(HIDDEN_BEGIN)
            lines.append(f"MESSAGES[{language!r}].update({{")
            lines += [f"    {k!r}: {v!r}," for k, v in hidden.items()]
            lines.append("})")
            lines.append(HIDDEN_END)
    lines.append(BLOCK_END)
    return "\n".join(lines)


def helpers_cell(nb: NotebookNode) -> NotebookNode:
    """The graded cell holding the generated block (exactly one)."""
    found = [c for c in _graded_cells(nb) if BLOCK_BEGIN in _source(c)]
    if len(found) != 1:
        raise ValueError(f"expected one cell with the line {BLOCK_BEGIN!r}, found {len(found)}")
    return found[0]


def expected_block(nb: NotebookNode, course_root: Path, assignment: str) -> str:
    """The block the helpers cell should hold, from the catalogs."""
    visible, hidden = feedback_messages(nb)
    tables = {}
    for language in languages(course_root):
        catalog = read_catalog(catalog_path(course_root, language, assignment))
        tables[language] = ({m: catalog[m] for m in visible if m in catalog},
                            {m: catalog[m] for m in hidden if m in catalog})
    return message_block(tables)


def current_block(nb: NotebookNode) -> str:
    code = _source(helpers_cell(nb))
    start = code.index(BLOCK_BEGIN)
    end = code.index(BLOCK_END, start) + len(BLOCK_END)
    return code[start:end]


def sync(course_root: Path, assignment: str) -> Path:
    """Update the catalogs of ``assignment`` and the helpers cell of its source; return it."""
    path = course_root / "solutions" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    visible, hidden = feedback_messages(nb)
    for language in languages(course_root):
        update_catalog(catalog_path(course_root, language, assignment), language,
                       visible + hidden)
    cell = helpers_cell(nb)
    source = _source(cell).replace(current_block(nb), expected_block(nb, course_root, assignment))
    # Rewrite that one cell in the file as it is stored (nbformat would reorder keys and add
    # fields, a diff nobody asked for).
    raw = json.loads(path.read_text(encoding="utf-8"))
    for stored in raw["cells"]:
        if stored.get("id") == cell.get("id") and BLOCK_BEGIN in "".join(stored["source"]):
            stored["source"] = source.splitlines(keepends=True)
    path.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# -- translated releases --------------------------------------------------------------------
def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


LIST_ITEM = re.compile(r"^(\s*(?:[*+-]|\d+[.)])\s+)(.*)$")
HEADING = re.compile(r"^(#{1,6}\s+)(.*)$")


def translate_markdown(text: str, lookup: Callable[[str], str | None]) -> str:
    """``text`` with each paragraph, heading, list item and table cell the catalog knows
    replaced by its translation (maths blocks, code fences and unknown text unchanged)."""
    out: list[str] = []
    block: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if block:
            out.extend(_translate_block(block, lookup))
            block.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if fence is not None:
            out.append(line)
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith(("```", "$$", ":::")):
            flush()
            marker = stripped[:3] if not stripped.startswith("$$") else "$$"
            out.append(line)
            if not (marker == "$$" and stripped.endswith("$$") and len(stripped) > 2):
                fence = marker
            continue
        if not stripped:
            flush()
            out.append(line)
            continue
        block.append(line)
    flush()
    return "\n".join(out)


def _translate_block(lines: list[str], lookup: Callable[[str], str | None]) -> list[str]:
    whole = lookup(_normal(" ".join(lines)))
    if whole is not None:
        return [whole]
    if all(line.lstrip().startswith("|") for line in lines):
        return [_translate_row(line, lookup) for line in lines]
    out: list[str] = []
    items: list[list[str]] = []
    for line in lines:
        if LIST_ITEM.match(line) or HEADING.match(line) or not items:
            items.append([line])
        else:
            items[-1].append(line)
    for item in items:
        match = HEADING.match(item[0]) or LIST_ITEM.match(item[0])
        if match is None:
            out.extend(item)
            continue
        prefix = match.group(1)
        body = _normal(" ".join([match.group(2), *item[1:]]))
        translated = lookup(body)
        out.append(prefix + translated if translated is not None else "\n".join(item))
    return out


def _translate_row(line: str, lookup: Callable[[str], str | None]) -> str:
    cells = line.strip().strip("|").split("|")
    if all(re.fullmatch(r"\s*:?-+:?\s*", c) for c in cells):
        return line
    return "| " + " | ".join(lookup(_normal(c)) or c.strip() for c in cells) + " |"


def translate_release(release: NotebookNode, language: str, page_catalog: dict[str, str]
                      ) -> NotebookNode:
    """The ``language`` edition of a released notebook (see the module docstring)."""
    nb = copy.deepcopy(release)

    def lookup(text: str) -> str | None:
        return page_catalog.get(text)

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = translate_markdown(_source(cell), lookup)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    source = LANGUAGE_CELL.get(language, f'{LANGUAGE_VARIABLE} = "{language}"')
    nb.cells.insert(first_code, nbformat.v4.new_code_cell(source))
    nb.metadata.setdefault("l2course", {})["language"] = language
    return nb


def page_catalog(course_root: Path, language: str, assignment: str) -> dict[str, str]:
    """The book page's catalog of ``assignment`` (msgid → translation)."""
    return read_catalog(course_root / "locales" / language / "LC_MESSAGES" / "exercises"
                        / assignment / f"{assignment}.po")


def release_in(course_root: Path, assignment: str, language: str) -> NotebookNode:
    """``exercises/<a>/<a>.ipynb`` in ``language``."""
    release = nbformat.read(course_root / "exercises" / assignment / f"{assignment}.ipynb",
                            as_version=4)
    return translate_release(release, language, page_catalog(course_root, language, assignment))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2course.translate",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sync", help="update the feedback catalogs and the helpers cell")
    s.add_argument("assignment")
    r = sub.add_parser("release", help="write the release notebook in another language")
    r.add_argument("assignment")
    r.add_argument("language")
    r.add_argument("out", type=Path)
    for p in (s, r):
        p.add_argument("--course-dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    root = args.course_dir.resolve()
    if args.command == "sync":
        print(f"updated {sync(root, args.assignment)} and its catalogs")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(release_in(root, args.assignment, args.language), args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
