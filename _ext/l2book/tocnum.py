"""Chapter and exercise numbers in prose, taken from the table of contents, never typed.

Two roles (see CONTRIBUTING.md, "Numbers of chapters and exercises"):

- ``{tocref}`chapter {number} <02_mechanism>``` — a link (to a document, as ``{doc}``, or to a
  label, as ``{ref}``) whose text has ``{number}`` replaced by the toc number of the target's
  page and ``{title}`` by that page's title. Without an explicit text it reads ``chapter {number}``. Resolved at write time, after
  every label is known; a target the build left out is handled by ``elsewhere.py``.
- ``{tocnum}`ex01-penalty``` — the bare number, as plain text, so that it can sit in a title
  (``# Exercise {tocnum}`ex01-penalty`: ...``) and reach the sidebar. Resolved while reading.

The number of a page is what the sidebar shows: a page in a numbered part gets its chapter
number (continued across parts when ``use_multitoc_numbering`` is on, as Jupyter Book does); a
page in an unnumbered list (the exercises under ``exercises/index``, the instructor edition's
solutions) gets its position in that list. So a selection of chapters renumbers its prose with
its sidebar.

Cost: one walk of the site map per build (a few dozen entries), one dict lookup per role.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import docname_join, logging
from sphinx.util.docutils import SphinxRole
from sphinx.util.nodes import split_explicit_title

logger = logging.getLogger(__name__)

DEFAULT_TEXT = "chapter {number}"


def toc_numbers(site_map: Any, continuous: bool) -> dict[str, str]:
    """Map each docname of a sphinx-external-toc site map to the number its sidebar entry shows.

    Numbered trees number their pages (children of a numbered page as ``N.M``); in an unnumbered
    tree a page's number is its position (the exercises under ``exercises/index``; the solutions
    part of the instructor edition).
    """
    numbers: dict[str, str] = {}
    chapter = 0

    def walk(docname: str, prefix: str | None) -> None:
        nonlocal chapter
        for tree in site_map[docname].subtrees:
            files = tree.files()
            for position, name in enumerate(files, start=1):
                if prefix is not None:
                    numbers[name] = f"{prefix}.{position}"
                elif tree.numbered:
                    if position == 1 and not continuous:
                        chapter = 0
                    chapter += 1
                    numbers[name] = str(chapter)
                else:
                    numbers[name] = str(position)
                walk(name, numbers[name] if (tree.numbered or prefix) else None)

    walk(site_map.root.docname, None)
    return numbers


def numbers_of(app: Sphinx) -> dict[str, str]:
    """The toc numbers of this build, computed once per process."""
    cached = getattr(app, "_l2book_toc_numbers", None)
    if cached is None:
        site_map = getattr(app.env, "external_site_map", None) or app.config.external_site_map
        cached = toc_numbers(site_map, bool(app.config.use_multitoc_numbering))
        app._l2book_toc_numbers = cached  # type: ignore[attr-defined]
    return cached


class TocNumRole(SphinxRole):
    """``{tocnum}`doc``` → the toc number of ``doc`` as plain text (usable in titles)."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        target = docname_join(self.env.docname, self.text.strip())
        number = numbers_of(self.env.app).get(target)
        users = self.env.__dict__.setdefault("l2book_tocnum_docs", set())
        users.add(self.env.docname)
        if number is None:
            logger.warning(
                "tocnum: %r has no number in the table of contents", target,
                location=self.get_location(), type="l2book", subtype="tocnum",
            )
            number = "?"
        return [nodes.Text(number)], []


class TocRefRole(SphinxRole):
    """``{tocref}`text with {number} <target>``` → a ``doc``/``ref`` link whose text is numbered."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        explicit, title, target = split_explicit_title(self.text)
        if not explicit:
            title = DEFAULT_TEXT
        target = target.strip()
        reftype = "doc" if self._is_document(target) else "ref"
        if reftype == "ref":
            target = target.lower()
        node = addnodes.pending_xref(
            self.rawtext, nodes.inline(title, title, classes=["xref", "std", f"std-{reftype}"]),
            refdomain="std", reftype=reftype, reftarget=target, refexplicit=True,
            refwarn=True, refdoc=self.env.docname, l2book_format=title,
        )
        self.set_source_info(node)
        return [node], []

    def _is_document(self, target: str) -> bool:
        """A target naming a page of the full course is a document; anything else is a label."""
        docname = docname_join(self.env.docname, target)
        elsewhere = getattr(self.config, "l2book_elsewhere", None) or {}
        return (
            docname in numbers_of(self.env.app)
            or docname in elsewhere.get("docs", {})
            or any((self.env.srcdir / f"{docname}{s}").is_file() for s in (".ipynb", ".md"))
        )


def target_docname(env: BuildEnvironment, node: addnodes.pending_xref) -> str | None:
    """The page a ``doc``/``ref`` cross-reference points to, or None if this build lacks it."""
    if node["reftype"] == "doc":
        return docname_join(node["refdoc"], node["reftarget"])
    label = env.get_domain("std").labels.get(node["reftarget"])  # type: ignore[attr-defined]
    return label[0] if label else None


class NumberTocRefs(SphinxPostTransform):
    """Put the target's toc number into each ``tocref`` before Sphinx resolves the link."""

    default_priority = 5  # before ReferencesResolver (10)

    def run(self, **kwargs: Any) -> None:
        numbers = numbers_of(self.app)
        for node in self.document.findall(addnodes.pending_xref):
            fmt = node.get("l2book_format")
            if fmt is None:
                continue
            docname = target_docname(self.env, node) or ""
            number = numbers.get(docname)
            if number is None:
                continue  # left out of this build: l2book_elsewhere renders it
            title = self.env.titles[docname].astext() if docname in self.env.titles else ""
            text = fmt.replace("{number}", number).replace("{title}", title)
            node.children[0].replace_self(nodes.inline(text, text, classes=node[0]["classes"]))


def reread_when_numbers_change(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """Titles hold ``tocnum`` numbers read once: re-read their pages when the numbering changes."""
    numbers = numbers_of(app)
    previous = env.__dict__.get("l2book_toc_numbers")
    env.l2book_toc_numbers = numbers  # type: ignore[attr-defined]
    if previous is None or previous == numbers:
        return []
    return sorted(d for d in env.__dict__.get("l2book_tocnum_docs", set()) if d in env.found_docs)


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    env.__dict__.get("l2book_tocnum_docs", set()).discard(docname)


def merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    users = env.__dict__.setdefault("l2book_tocnum_docs", set())
    users.update(d for d in other.__dict__.get("l2book_tocnum_docs", set()) if d in docnames)
