"""Maths typeset at build time: pages with maths load no MathJax script.

MathJax (0.76 MB of JavaScript) was loaded on every page with maths. After the build, every
``<span|div class="math ...">`` still holding TeX, on every page, is sent in ONE Node run
(``mathjax_node/prerender.js``, the vendored MathJax 3.2.2 with its liteDOM adaptor) and replaced
by MathJax's CHTML markup (``mjx-container``) with the hidden MathML of ``a11y/assistive-mml`` for
screen readers. The CHTML stylesheet goes to ``_static/mathjax/chtml.css`` (its fonts are the
vendored ``woff-v2`` files next to it), linked from the pages with maths. The TeX of every page is
kept in ``<doctreedir>/l2book_mathjax.json`` so the stylesheet covers every page after a partial
rebuild; a rebuild with nothing to typeset does not start Node. A TeX error fails the build with
the page and the formula (no red ``noerrors`` box). Without ``node`` on PATH, the pages keep
loading MathJax in the browser, and the log says so in one line.

Runs inside ``scan.py``'s pass: ``prepare`` typesets every page's maths in one Node run (~1,100
formulas of 19 pages) and returns the per-page rewriter.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

NODE_SCRIPT = Path(__file__).resolve().parent / "mathjax_node" / "prerender.js"
MATHJAX_CSS = "mathjax/chtml.css"  # under _static; its fonts: mathjax/output/chtml/fonts/woff-v2
MATHJAX_FONTS = "output/chtml/fonts/woff-v2"  # relative to the stylesheet
# The scale the browser's MathJax chose for the theme's text (ex-height match): 127.3 %.
MATHJAX_SCALE = 1.273
CACHE_NAME = "l2book_mathjax.json"
# What sphinx.ext.mathjax writes: <span class="math notranslate nohighlight">\(tex\)</span> and
# <div class="math notranslate nohighlight" id=...><span class="eqno">(n)<a ...>#</a></span>\[tex\]</div>
# (the TeX is HTML-escaped, so it holds no "<"). Typeset ones hold <mjx-container> instead.
MATH_ELEMENT = re.compile(
    r'(<span class="math notranslate nohighlight">)([^<]*)(</span>)'
    r'|(<div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">[^<]*(?:<a [^>]*>[^<]*</a>)?</span>)?)([^<]*)(</div>)'
)
# The browser-side MathJax of a page written without build-time typesetting (e.g. by an earlier
# build): its configuration and startup.js.
MATHJAX_SCRIPTS = re.compile(
    r'<script>window\.MathJax = [^<]*</script>\s*'
    r'|<script\b[^>]*\bsrc="[^"]*_static/mathjax/[^"]*"[^>]*></script>\s*'
)
STYLESHEET_LINK = '<link rel="stylesheet" type="text/css" href="{href}" />\n'

Pages = dict[str, list[list[Any]]]  # page name -> [[tex, display], ...]
Rewriter = Callable[[Path, str], str]


def node_path(app: Sphinx) -> str | None:
    """Path of ``node`` when maths is typeset at build time (HTML builders only)."""
    if not hasattr(app, "_l2book_node"):
        node = shutil.which("node") if app.builder.format == "html" else None
        app._l2book_node = node  # type: ignore[attr-defined]
        if node is None and app.builder.format == "html":
            LOGGER.info(
                "l2book: Node.js (node) was not found on PATH, so maths is typeset in the "
                "reader's browser by the vendored MathJax instead of at build time."
            )
    return app._l2book_node  # type: ignore[attr-defined]


def tex_of(match: re.Match[str]) -> tuple[str, bool] | None:
    """(TeX, display) of a math element still holding TeX, or None if already typeset/empty."""
    inline = match.group(1) is not None
    raw = html_lib.unescape(match.group(2) if inline else match.group(5)).strip()
    if not raw:
        return None
    if inline:
        if raw.startswith("\\(") and raw.endswith("\\)"):
            raw = raw[2:-2]
        return raw, False
    if raw.startswith("\\[") and raw.endswith("\\]"):
        raw = raw[2:-2]
    return raw, True  # else "nowrap" maths: \begin{equation}... typeset as one display


def _typeset(app: Sphinx, node: str, pages: Pages) -> dict[str, Any]:
    """One Node run over every page's TeX: ``{"pages": {name: [html...]}, "css": ...}``."""
    mathjax_config = dict(app.config.mathjax3_config or {})
    request = {
        "mathjax": str(Path(app.outdir) / "_static" / "mathjax"),  # the vendored copy
        "fontURL": MATHJAX_FONTS,
        "scale": MATHJAX_SCALE,
        "tex": mathjax_config.get("tex", {}),
        "pages": [
            {"name": name, "items": [{"tex": t, "display": d} for t, d in items]}
            for name, items in sorted(pages.items())
        ],
    }
    proc = subprocess.run(
        [node, str(NODE_SCRIPT)], input=json.dumps(request), capture_output=True,
        text=True, encoding="utf-8", timeout=600,
    )
    if proc.returncode != 0:
        raise ExtensionError(f"MathJax in Node failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout)
    if result["errors"]:
        lines = [f"  {e['page']}: {e['error']}: {e['tex'][:200]!r}" for e in result["errors"]]
        raise ExtensionError(
            f"MathJax could not typeset {len(lines)} formula(s):\n" + "\n".join(lines)
        )
    return result


def _untypeset(outdir: Path, pages: dict[Path, str]) -> Pages:
    """The TeX of each page (by name under ``outdir``) that still holds TeX."""
    todo: Pages = {}
    for path, text in pages.items():
        if "_static" in path.parts or "_sources" in path.parts:
            continue
        if 'class="math notranslate nohighlight"' not in text:
            continue
        items = [t for t in (tex_of(m) for m in MATH_ELEMENT.finditer(text)) if t is not None]
        if items:  # a page written (or left untypeset) by this build
            todo[path.relative_to(outdir).as_posix()] = [list(t) for t in items]
    return todo


def _rewrite_page(name: str, text: str, rendered: list[str]) -> str:
    """``text`` with each TeX element replaced by its CHTML and the stylesheet linked."""
    markup = iter(rendered)

    def replace(match: re.Match[str]) -> str:
        if tex_of(match) is None:
            return match.group(0)
        if match.group(1) is not None:
            return match.group(1) + next(markup) + match.group(3)
        return match.group(4) + next(markup) + match.group(6)

    href = "../" * name.count("/") + "_static/" + MATHJAX_CSS
    text = MATHJAX_SCRIPTS.sub("", MATH_ELEMENT.sub(replace, text))
    if href not in text:
        text = text.replace("</head>", STYLESHEET_LINK.format(href=href) + "</head>", 1)
    return text


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def prepare(app: Sphinx, pages: dict[Path, str]) -> Rewriter | None:
    """Typeset the maths of ``pages`` (path -> text) in one Node run; the per-page rewriter.

    None when nothing is to be done: no Node, or no page holding TeX and a stylesheet already there.
    """
    node = node_path(app)
    if node is None:
        return None
    outdir = Path(app.outdir)
    cache_path = Path(app.doctreedir) / CACHE_NAME
    try:
        cache: Pages = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    todo = _untypeset(outdir, pages)
    cache.update(todo)
    css_file = outdir / "_static" / MATHJAX_CSS
    if not todo and css_file.exists():
        return None  # nothing new to typeset: Node is not started
    cache = {k: v for k, v in cache.items() if (outdir / k).exists()}
    # Every page's maths, so that the stylesheet covers the characters of every page.
    result = _typeset(app, node, cache)
    _write_if_changed(css_file, result["css"])
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache), encoding="utf-8")
    LOGGER.info(
        f"l2book: typeset {sum(len(v) for v in cache.values())} formulas of {len(cache)} "
        f"pages with MathJax in Node ({len(todo)} page(s) rewritten)"
    )

    def rewrite(path: Path, text: str) -> str:
        name = path.relative_to(outdir).as_posix()
        return _rewrite_page(name, text, result["pages"][name]) if name in todo else text

    return rewrite
