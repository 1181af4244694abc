"""The book on a phone (issue 21): pages that fit 390 px, and a λ widget that reads as text.

Wired by ``l2book.setup``. Two pieces:

* ``l2book-responsive.css`` (in ``l2book/static/``, 2 kB, on every page): long inline code wraps,
  images and matplotlib's ``to_jshtml()`` widget scale to the column (its slider was a fixed
  374 px), its buttons and radio buttons are at least 24 px, and titles shrink below 576 px.
* A text readout for a ``to_jshtml()`` animation wrapped by its notebook in
  ``<div class="l2-anim" data-frame-labels='["λ = 1e-06, ...", ...]'>``: one label per frame. After
  the doctree is resolved an ``<output>`` holding the first frame's label is put right after the
  slider (so it is in the page, the print and the PDF without JavaScript), and the slider gets
  ``aria-valuetext``; ``l2book-anim.js`` (loaded only on such pages, 1 kB) keeps both in step
  with the frame shown, whichever control changed it.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from .raw_html import rewrite_raw_nodes

LABELLED = re.compile(r'<div class="l2-anim" data-frame-labels="([^"]*)"')
SLIDER = re.compile(r'<input id="(_anim_slider[0-9a-f]+)"[^>]*>')
ANIM_JS = "l2book-anim.js"
STYLESHEET = "l2book-responsive.css"  # in l2book/static, added to html_static_path by theme.py


def add_frame_readout(text: str) -> str:
    """``text`` (raw HTML) with a readout of the first frame's label after each labelled slider."""
    labelled = LABELLED.search(text)
    slider = SLIDER.search(text, labelled.end()) if labelled else None
    if labelled is None or slider is None or "l2-anim-readout" in text:
        return text
    labels = json.loads(html_lib.unescape(labelled.group(1)))
    first = html_lib.escape(str(labels[0]))
    tag = slider.group(0)
    new_tag = tag[:-1].rstrip() + f' aria-valuetext="{first}">' if "aria-valuetext" not in tag else tag
    readout = (
        f'<output class="l2-anim-readout" for="{slider.group(1)}" aria-live="polite">'
        f"{first}</output>"
    )
    return text[: slider.start()] + new_tag + readout + text[slider.end() :]


def readouts(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    rewrite_raw_nodes(doctree, add_frame_readout)


def anim_script(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Load ``l2book-anim.js`` on the pages that have a readout, and only there."""
    if "l2-anim-readout" in str(context.get("body") or ""):
        app.add_js_file(ANIM_JS, defer="defer")
