"""The theme's templates overridden, the extension's static files added, MathJax's files unlisted.

* ``templates/static/webpack-macros.html`` overrides pydata-sphinx-theme's macros only to drop
  ``fontawesome.js`` (1.5 MB, loaded "so that users can add custom icons"; the theme's icons are
  drawn by its CSS and web fonts). The cache-busting ``?digest=`` of the theme's assets is not
  copied into the override: ``theme_digest`` reads it from the installed theme's own macros (its
  webpack build writes it there), so a theme upgrade changes it with the files it names.
* ``templates/layout.html`` loads search's scripts only where search-as-you-type needs them.
* Jupyter Book lists every ``.js``/``.css`` file under ``_static/`` as a page asset, so the
  vendored MathJax's extensions, menu and speech-rule engine (~1.2 MB, with console errors) were
  all loaded eagerly. They are unlisted; MathJax's loader fetches what it needs itself.

Cost: one read of a 1-kB template per build.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
DIGEST = re.compile(r"\?digest=([0-9a-f]+)")


@functools.cache
def theme_digest() -> str:
    """The ``?digest=`` that pydata-sphinx-theme's own macros put on its CSS and scripts."""
    import pydata_sphinx_theme

    macros = (
        Path(pydata_sphinx_theme.__file__).parent
        / "theme" / "pydata_sphinx_theme" / "static" / "webpack-macros.html"
    )
    found = set(DIGEST.findall(macros.read_text(encoding="utf-8")))
    if len(found) != 1:
        raise RuntimeError(f"expected one asset digest in {macros}, found {sorted(found)}")
    return found.pop()


def _entry_name(entry: Any) -> str:
    name = entry[0] if isinstance(entry, (tuple, list)) else entry
    return str(name or "")


def configure(app: Sphinx, config: Config) -> None:
    """``config-inited``: the override templates first, the static files, no MathJax assets."""
    if str(TEMPLATES) not in config.templates_path:
        config.templates_path.insert(0, str(TEMPLATES))
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))
    # sphinx.ext.mathjax adds ``mathjax_path`` itself; the other files are MathJax's to load.
    config.html_js_files = [
        e for e in config.html_js_files if not _entry_name(e).startswith("mathjax/")
    ]
    config.html_css_files = [
        e for e in config.html_css_files if not _entry_name(e).startswith("mathjax/")
    ]


def add_digest(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``: the theme's digest for ``templates/static/webpack-macros.html``."""
    context["l2book_theme_digest"] = theme_digest()
