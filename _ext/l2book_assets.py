"""Keep the book's pages light and private (no request leaves the reader's machine).

A local Sphinx extension, enabled in ``_config.yml`` (``sphinx: local_extensions:``). It fixes what
the stock Jupyter Book 1.0.4 / pydata-sphinx-theme 0.17 page gets wrong for this course:

* Jupyter Book adds *every* ``.js`` file under ``_static/`` as a ``<script>`` on every page, so the
  vendored MathJax's extensions, menu and speech-rule engine (~1.2 MB, with console errors) were
  all loaded eagerly. Only ``mathjax_path`` is kept; MathJax loads what it needs itself.
* pydata-sphinx-theme loads ``fontawesome.js`` (1.5 MB) "so that users can add custom icons"; the
  icons the theme uses are already drawn by its CSS and web fonts. A template override drops it.
* sphinx-thebe registers its configuration script twice (``const THEBE_JS_URL`` redeclared: an
  uncaught SyntaxError on every page) and names a CDN URL. Thebe is not used (the launch buttons
  are Binder and Colab), so its script and stylesheet are removed.
* matplotlib's ``to_jshtml()`` animation widget links Font Awesome 4 from a CDN; the theme's
  Font Awesome 6 CSS already draws its ``fa fa-play``... icons, so the link is dropped. The widget's
  frame image has no alt text and its slider no label (axe: critical); both are added.
* The theme's sidebar folds sub-pages under a ``<summary>`` with only an icon in it (axe:
  "summary-name", serious); each gets an ``aria-label`` naming the section it opens.
* docutils marks bibliography entries ``role="doc-biblioentry"`` (deprecated in DPUB-ARIA 1.1)
  inside ``role="list"`` (axe: "aria-required-children", critical); they become ``listitem``.
* Without MathJax's menu, display maths wider than the column scrolls but cannot take keyboard
  focus (axe: "scrollable-region-focusable"); ``l2book.js`` makes those containers focusable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "l2book_templates"
STATIC = HERE / "l2book_static"
# <link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/...">
CDN_STYLESHEET = re.compile(
    r"<link\b[^>]*\bhref=[\"']https?://[^\"']*font-awesome[^\"']*[\"'][^>]*>\s*", re.IGNORECASE
)

# matplotlib.animation's jshtml template: <img id="_anim_img..."> and <input id="_anim_slider...">
ANIM_IMG = re.compile(r'(<img id="_anim_img[^"]*")>')
ANIM_SLIDER = re.compile(r'(<input id="_anim_slider[^"]*" type="range")(?![^>]*aria-label)')

# The sidebar's fold-out: <a class="reference internal" href="...">Title</a><details><summary>
SIDEBAR_SUMMARY = re.compile(
    r'(<a class="[^"]*reference internal[^"]*" href="[^"]*">([^<]*)</a>\s*<details[^>]*>\s*)<summary>'
)


def _filename(asset: Any) -> str:
    """An asset's path relative to ``_static`` (Sphinx stores local assets as ``_static/...``)."""
    name = str(getattr(asset, "filename", asset) or "")
    return name.removeprefix("_static/")


def _keep_script(asset: Any, mathjax_path: str) -> bool:
    name = _filename(asset)
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    if name.startswith("mathjax/") and name != mathjax_path:
        return False  # an eagerly loaded MathJax component: MathJax's loader fetches its own
    if name == "sphinx-thebe.js" or "THEBE_JS_URL" in body:
        return False
    return True


def _label_summaries(html: str) -> str:
    return SIDEBAR_SUMMARY.sub(r'\1<summary aria-label="Show or hide the pages under \2">', html)


def _trim_page_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    mathjax_path = str(app.config.mathjax_path or "")
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        scripts[:] = [s for s in scripts if _keep_script(s, mathjax_path)]
    styles = context.get("css_files")
    if isinstance(styles, list):
        styles[:] = [
            c
            for c in styles
            if _filename(c) != "sphinx-thebe.css" and not _filename(c).startswith("mathjax/")
        ]
    body = context.get("body")
    if isinstance(body, str) and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')
    toctree = context.get("generate_toctree_html")
    if callable(toctree) and not getattr(toctree, "_l2book", False):

        def labelled_toctree(*args: Any, **kwargs: Any) -> Any:
            html = toctree(*args, **kwargs)
            return _label_summaries(str(html))  # the theme returns a str or a BeautifulSoup

        labelled_toctree._l2book = True  # type: ignore[attr-defined]
        context["generate_toctree_html"] = labelled_toctree


def _fix_raw_html(text: str) -> str:
    """Make a raw HTML output (e.g. a jshtml animation) private and accessible."""
    text = CDN_STYLESHEET.sub("", text)
    text = ANIM_IMG.sub(
        r'\1 alt="Animation frame: use the slider or the buttons below to change it">', text
    )
    return ANIM_SLIDER.sub(r'\1 aria-label="Animation frame"', text)


def _fix_raw_nodes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        new = _fix_raw_html(text)
        if new != text:
            node.replace_self(nodes.raw("", new, format=node.get("format", "html")))


def _entry_name(entry: Any) -> str:
    name = entry[0] if isinstance(entry, (tuple, list)) else entry
    return str(name or "")


def _configure(app: Sphinx, config: Config) -> None:
    if str(TEMPLATES) not in config.templates_path:
        config.templates_path.insert(0, str(TEMPLATES))
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))
    # Jupyter Book listed every .js/.css under _static/mathjax as a page asset; MathJax's own
    # loader fetches the components it needs (``mathjax_path`` is added by sphinx.ext.mathjax).
    config.html_js_files = [
        e for e in config.html_js_files if not _entry_name(e).startswith("mathjax/")
    ]
    config.html_css_files = [
        e for e in config.html_css_files if not _entry_name(e).startswith("mathjax/")
    ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _configure)
    app.connect("doctree-resolved", _fix_raw_nodes)
    app.add_js_file("l2book.js", defer="defer")
    # After sphinx.ext.mathjax (priority 500) has added its script for the page.
    app.connect("html-page-context", _trim_page_assets, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
