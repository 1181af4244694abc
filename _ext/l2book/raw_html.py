"""Raw HTML outputs (e.g. a matplotlib ``to_jshtml()`` animation) made private.

matplotlib's animation widget links Font Awesome 4 from a CDN; the theme's Font Awesome 6 CSS
already draws its ``fa fa-play``... icons, so the link is dropped and no request leaves the
reader's machine. (Chapter 2's notebook strips it itself today, so this matches nothing in the
current book; it guards the next notebook that embeds a widget. The alt text and slider label
that the widget lacks are written by the notebook, which knows what the frames show.)

``rewrite_raw_nodes`` is the one walker over a doctree's raw nodes, shared with
``responsive.add_frame_readout``. Cost: one pass over the raw nodes of each resolved doctree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from docutils import nodes
from sphinx.application import Sphinx

# <link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/...">
CDN_STYLESHEET = re.compile(
    r"<link\b[^>]*\bhref=[\"']https?://[^\"']*font-awesome[^\"']*[\"'][^>]*>\s*", re.IGNORECASE
)


def drop_cdn_stylesheet(text: str) -> str:
    """``text`` (raw HTML) without a stylesheet link to a Font Awesome CDN."""
    return CDN_STYLESHEET.sub("", text)


def rewrite_raw_nodes(doctree: nodes.document, rewrite: Callable[[str], str]) -> None:
    """Replace each raw node whose text ``rewrite`` changes."""
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        new = rewrite(text)
        if new != text:
            node.replace_self(nodes.raw("", new, format=node.get("format", "html")))


def fix_raw_nodes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """``doctree-resolved``: drop CDN stylesheets from the page's raw HTML."""
    rewrite_raw_nodes(doctree, drop_cdn_stylesheet)
