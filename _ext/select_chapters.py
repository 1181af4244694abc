"""Write the table of contents and config of a selection of chapters (``make book CHAPTERS=...``).

    python _ext/select_chapters.py OUT_DIR 01 03 04

writes ``OUT_DIR/_toc.yml`` and ``OUT_DIR/_config.yml`` for a book made of the chosen chapters,
each with its exercise, plus every page that belongs to no chapter (intro, notation, glossary,
exercises index, ledger, references...). Nothing is typed here: a page belongs to chapter ``NN``
when its file name starts with ``NN_`` (``chapters/03_l1_vs_l2``) or ``exNN-``
(``exercises/ex03-l1-vs-l2/ex03-l1-vs-l2``), so chapters added to ``_toc.yml`` are selectable at
once. Parts left empty are dropped.

The config is the course's ``_config.yml`` plus ``sphinx.config.l2book_elsewhere``: the title of
every left-out page and labelled section, and the full course's published URL (``html.baseurl``),
which ``_ext/l2book/elsewhere.py`` uses to turn references to them into links to the full
course. Relative paths (local extensions) are rewritten for OUT_DIR; when OUT_DIR is not the
course folder, the executed notebooks come from the course's own ``_build/.jupyter_cache``, so a
selection re-executes nothing the full book already ran. ``OUT_DIR`` = ``.`` rewrites the
course's own ``_toc.yml``/``_config.yml`` (comments are lost): the way to make a selection
permanent in one's own repository; the left-out files are then listed for ``git rm``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from booktools import REPO, load_toc, toc_files
CHAPTER_OF = re.compile(r"^(?:ex)?(\d+)[-_]")
LABEL_THEN_HEADING = re.compile(r"^\(([\w.:-]+)\)=[ \t]*\n(?:[ \t]*\n)*#+[ \t]+(.+)$", re.M)
NUMBER_ROLE = re.compile(r"\S+\s+\{tocnum\}`[^`]*`\s*:?\s*")
ANY_ROLE = re.compile(r"\{[\w:-]+\}`([^`<]*?)\s*(?:<[^>]*>)?`")


class SelectionError(ValueError):
    """The requested selection does not name chapters of this course."""


def chapter_of(docname: str) -> str | None:
    """The chapter key (``"03"``) a page belongs to, from its file name; None for shared pages."""
    match = CHAPTER_OF.match(docname.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def normalise(keys: list[str], available: list[str]) -> list[str]:
    """``["1", "03"]`` → ``["01", "03"]`` (as the files spell them), or a clear error."""
    width = max((len(k) for k in available), default=2)
    chosen = []
    for key in keys:
        if not key.isdigit():
            raise SelectionError(f"{key!r} is not a chapter number; choose from {' '.join(available)}")
        key = key.zfill(width)
        if key not in available:
            raise SelectionError(f"there is no chapter {key}; choose from {' '.join(available)}")
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise SelectionError(f"no chapter chosen; choose from {' '.join(available)}")
    return chosen


def select_toc(toc: dict, chosen: list[str]) -> dict:
    """A copy of ``toc`` without the pages of unchosen chapters and without emptied parts."""

    def keep(entries: list[dict]) -> list[dict]:
        out = []
        for entry in entries:
            key = chapter_of(str(entry["file"])) if "file" in entry else None
            if key is not None and key not in chosen:
                continue
            entry = dict(entry)
            for child in ("chapters", "sections"):
                if child in entry:
                    entry[child] = keep(entry[child])
                    if not entry[child]:
                        del entry[child]
            if "file" in entry or entry.get("chapters"):
                out.append(entry)
        return out

    selected = dict(toc)
    for key in ("parts", "chapters"):
        if key in toc:
            selected[key] = keep(toc[key])
    return selected


def source_text(docname: str) -> str:
    """The markdown of a page (a notebook's markdown cells joined), for titles and labels."""
    path = REPO / f"{docname}.md"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    notebook = json.loads((REPO / f"{docname}.ipynb").read_text(encoding="utf-8"))
    return "\n\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )


def plain(markdown_title: str) -> str:
    """A heading as readable text: no "Exercise {tocnum}`x`:" number, roles shown as their text."""
    unnumbered = NUMBER_ROLE.sub("", markdown_title)
    text = ANY_ROLE.sub(r"\1", unnumbered).strip()
    return text[:1].upper() + text[1:] if unnumbered != markdown_title else text


def catalogue(docnames: list[str], url: str) -> dict[str, Any]:
    """Titles of the left-out pages and of their labelled sections, and the full course's URL."""
    docs: dict[str, str] = {}
    labels: dict[str, list[str]] = {}
    for docname in docnames:
        text = source_text(docname)
        heading = re.search(r"^#[ \t]+(.+)$", text, re.M)
        docs[docname] = plain(heading.group(1)) if heading else docname
        for label, title in LABEL_THEN_HEADING.findall(text):
            labels[label.lower()] = [docname, plain(title)]
    return {"url": url, "docs": docs, "labels": labels}


def previous_catalogue(config: dict) -> dict[str, Any]:
    """The catalogue of an earlier selection made in place (its pages are gone from the toc)."""
    return ((config.get("sphinx") or {}).get("config") or {}).get("l2book_elsewhere") or {}


def published_url(config: dict) -> str:
    """The full course's published address: ``html.baseurl`` in ``_config.yml``."""
    url = (config.get("html") or {}).get("baseurl") or previous_catalogue(config).get("url")
    if not url:
        raise SelectionError("_config.yml has no html.baseurl (the full course's published URL)")
    return str(url)


def selection_config(config: dict, elsewhere: dict, out: Path) -> dict:
    """The course config for a selection built with its config file in ``out``."""
    config = json.loads(json.dumps(config))  # deep copy
    sphinx = config.setdefault("sphinx", {})
    for name, path in (sphinx.get("local_extensions") or {}).items():
        sphinx["local_extensions"][name] = os.path.relpath(REPO / path, out) + "/"
    sphinx.setdefault("config", {})["l2book_elsewhere"] = elsewhere
    # A selection is not the full course: no canonical link to the full course's pages.
    config.get("html", {}).pop("baseurl", None)
    if out.resolve() != REPO:
        config.setdefault("execute", {}).setdefault("cache", str(REPO / "_build" / ".jupyter_cache"))
    return config


def write_selection(out: Path, keys: list[str]) -> list[str]:
    """Write ``out/_toc.yml`` and ``out/_config.yml``; return the left-out pages."""
    toc = load_toc(REPO / "_toc.yml")
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    pages = list(toc_files(toc))
    available = sorted({k for k in map(chapter_of, pages) if k is not None})
    chosen = normalise(keys, available)
    selected = select_toc(toc, chosen)
    kept = set(toc_files(selected))
    left_out = [p for p in pages if p not in kept]
    elsewhere = catalogue(left_out, published_url(config))
    for key in ("docs", "labels"):  # a selection of a selection still links the first one's
        elsewhere[key] = {**previous_catalogue(config).get(key, {}), **elsewhere[key]}
    out.mkdir(parents=True, exist_ok=True)
    dump = {"sort_keys": False, "allow_unicode": True}
    header = f"# Generated by _ext/select_chapters.py for chapters {' '.join(chosen)}.\n"
    (out / "_toc.yml").write_text(header + yaml.safe_dump(selected, **dump), encoding="utf-8")
    (out / "_config.yml").write_text(
        header + yaml.safe_dump(selection_config(config, elsewhere, out), **dump), encoding="utf-8"
    )
    return left_out


def left_out_paths(left_out: list[str]) -> list[str]:
    """Files (or an assignment's whole folder, ``exercises/<a>/<a>``) of the left-out pages."""
    paths = []
    for docname in left_out:
        folder, _, stem = docname.rpartition("/")
        if folder.rpartition("/")[2] == stem:
            paths.append(folder)
        else:
            paths += sorted(str(p.relative_to(REPO)) for p in REPO.glob(f"{docname}.*"))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the generated _toc.yml and _config.yml")
    parser.add_argument("chapters", nargs="+", help="chapter numbers, e.g. 01 03 04")
    args = parser.parse_args(argv)
    keys = [k for arg in args.chapters for k in re.split(r"[\s,]+", arg) if k]
    try:
        left_out = write_selection(args.out, keys)
    except SelectionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Selection written to {args.out}/_toc.yml; left out: {' '.join(left_out) or 'nothing'}")
    if args.out.resolve() == REPO and left_out:
        print("To drop the left-out pages from this repository: git rm -r " + " ".join(
            left_out_paths(left_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
