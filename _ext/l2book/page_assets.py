"""Each page loads only the scripts and stylesheets it uses.

* sphinx-thebe registers its configuration script twice (``const THEBE_JS_URL`` redeclared: an
  uncaught SyntaxError on every page) and names a CDN URL. Thebe is not used (the launch buttons
  are Binder and Colab), so its script and stylesheet are removed.
* myst-nb sets Sphinx's asset policy to "always", so MathJax (0.8 MB) was loaded on pages without
  maths; it is now loaded only where the page has maths, and nowhere when ``maths.py`` typesets
  at build time.
* sphinx-design's tab script is loaded only on pages with a tab set.

Cost: a few list filters per page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from .maths import node_path


def _filename(asset: Any) -> str:
    """An asset's path relative to ``_static`` (Sphinx stores local assets as ``_static/...``)."""
    name = str(getattr(asset, "filename", asset) or "")
    return name.removeprefix("_static/")


def _body(asset: Any) -> str:
    return str(getattr(asset, "attributes", {}).get("body", ""))


def keep_script(asset: Any, mathjax_path: str) -> bool:
    """False for an eagerly listed MathJax component and for sphinx-thebe's scripts."""
    name = _filename(asset)
    if name.startswith("mathjax/") and name != mathjax_path:
        return False  # MathJax's loader fetches its own components
    return not (name == "sphinx-thebe.js" or "THEBE_JS_URL" in _body(asset))


def _needs_mathjax(app: Sphinx, body: str) -> bool:
    has_maths = 'class="math' in body or "mathjax_process" in body or "tex2jax_process" in body
    return has_maths and not node_path(app)


def trim_page_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context`` (after sphinx.ext.mathjax has added its script)."""
    mathjax_path = str(app.config.mathjax_path or "")
    body = str(context.get("body") or "")
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        scripts[:] = [s for s in scripts if keep_script(s, mathjax_path)]
        if "sd-tab" not in body:
            scripts[:] = [s for s in scripts if _filename(s) != "design-tabs.js"]
        if not _needs_mathjax(app, body):
            scripts[:] = [
                s for s in scripts
                if _filename(s) != mathjax_path and not _body(s).startswith("window.MathJax")
            ]
    styles = context.get("css_files")
    if isinstance(styles, list):
        styles[:] = [
            c for c in styles
            if _filename(c) != "sphinx-thebe.css" and not _filename(c).startswith("mathjax/")
        ]
