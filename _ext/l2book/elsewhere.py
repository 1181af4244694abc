"""References to pages a selection of chapters left out: a link to the full course, not a warning.

``make book CHAPTERS="01 03 04"`` builds a book without chapters 2 and 5, while the pages every
selection keeps (glossary, ledger, exercises index, ...) still name them with ``{doc}``, ``{ref}``
and ``{tocref}``. ``_ext/select_chapters.py`` writes, into the selection's ``_config.yml``, the
config value ``l2book_elsewhere`` (declared in ``l2book.setup``)::

    {"url": "https://.../",                      # the full course, as published
     "docs": {"chapters/02_mechanism": "Mechanism and effect", ...},
     "labels": {"ch5-four-libraries": ["chapters/05_implementation", "Section title"], ...}}

and this module answers Sphinx's ``missing-reference`` event for exactly those targets with
``<a class="l2book-elsewhere" href="URL/chapters/02_mechanism.html">Mechanism and effect</a>
(full course)`` (a label adds ``#label`` and the page's title). Any other missing target still
warns, so a strict build fails on a real broken reference. The full book sets no catalogue:
every reference there is an ordinary link, and this module does nothing.
"""

from __future__ import annotations


from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import docname_join

NOTE = "full course"
CONFIG = "l2book_elsewhere"  # the config value select_chapters.py writes


def _target(catalogue: dict, node: addnodes.pending_xref) -> tuple[str, str, str] | None:
    """(docname, anchor, title) of a left-out target named by ``node``, else None."""
    if node.get("refdomain") != "std":
        return None
    if node.get("reftype") == "doc":
        docname = docname_join(node["refdoc"], node["reftarget"])
        title = catalogue.get("docs", {}).get(docname)
        return (docname, "", title) if title else None
    if node.get("reftype") in {"ref", "numref"}:
        found = catalogue.get("labels", {}).get(str(node["reftarget"]).lower())
        return (found[0], f"#{node['reftarget']}", found[1]) if found else None
    return None


def link_to_full_course(
    app: Sphinx, env: BuildEnvironment, node: addnodes.pending_xref, contnode: nodes.Element
) -> nodes.Node | None:
    """Render a reference to a left-out page as its title, linked to the published course."""
    catalogue = app.config.l2book_elsewhere or {}
    found = _target(catalogue, node)
    if found is None:
        return None
    docname, anchor, title = found
    numbered_text = node.get("l2book_format") is not None  # its number is not in this book
    text = contnode.astext() if node.get("refexplicit") and not numbered_text else title
    url = f"{catalogue['url'].rstrip('/')}/{docname}.html{anchor}"
    link = nodes.reference(text, text, refuri=url, internal=False, classes=["l2book-elsewhere"])
    link["reftitle"] = f"Not part of this selection: {catalogue['docs'].get(docname, title)}, in the full course"
    wrapper = nodes.inline(classes=["l2book-elsewhere-ref"])
    wrapper += link
    page = catalogue.get("docs", {}).get(docname)
    note = f" ({NOTE}: {page})" if anchor and page and page != text else f" ({NOTE})"
    wrapper += nodes.Text(note)
    return wrapper
