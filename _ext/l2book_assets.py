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
* pydata-sphinx-theme's CSS carries rules for all ~1,900 Font Awesome icons and three web fonts
  (0.3 MB, of which a page uses a dozen glyphs). After the build, the rules for icons no page or
  script names are dropped and the fonts are subset to the glyphs still referenced (woff).
* The theme's stylesheet (Bootstrap 5 + pydata, 0.3 MB), sphinx-design's and myst-nb's are mostly
  rules for classes no page uses. After the build, a rule is dropped when one of its class/id names appears
  in no built HTML page and no script (the way PurgeCSS decides), except for names that Bootstrap
  and the theme build at run time (``SAFE_PREFIXES``).
* myst-nb sets Sphinx's asset policy to "always", so MathJax (0.8 MB) was loaded on pages without
  maths; it is now loaded only where the page has maths.
* pydata-sphinx-theme loads searchtools.js, language_data.js and the whole searchindex.js on every
  page for search-as-you-type, which is off; a layout override loads them only on the search page.
* Figures are matplotlib PNGs with a few dozen distinct colours stored as 24-bit RGBA. After the
  build, each PNG in ``_images/`` and each frame embedded in a ``to_jshtml()`` animation is
  re-encoded with a 256-colour palette (median cut, no dithering) when that is smaller — about a
  third of the bytes, with no visible change. The notebooks keep their original outputs.
* Without MathJax's menu, display maths wider than the column scrolls but cannot take keyboard
  focus (axe: "scrollable-region-focusable"); ``l2book.js`` makes those containers focusable.
* Maths is typeset at build time: MathJax (0.76 MB of JavaScript) was loaded on every page with
  maths. After the build, every ``<span|div class="math ...">`` still holding TeX, on every page,
  is sent in ONE Node run (``mathjax_node/prerender.js``, the vendored MathJax 3.2.2 with its
  liteDOM adaptor) and replaced by MathJax's CHTML markup (``mjx-container``) with the hidden
  MathML of ``a11y/assistive-mml`` for screen readers. The CHTML stylesheet goes to
  ``_static/mathjax/chtml.css`` (its fonts are the vendored ``woff-v2`` files next to it), linked
  from the pages with maths; those pages load no MathJax script. The TeX of every page is kept in
  ``<doctreedir>/l2book_mathjax.json`` so the stylesheet covers every page after a partial
  rebuild; a rebuild with nothing to typeset does not start Node. A TeX error fails the build
  with the page and the formula (no red ``noerrors`` box). Without ``node`` on PATH, the pages
  keep loading MathJax in the browser as before, and the log says so in one line.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

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
    from sphinx.locale import _  # the label in the edition's language (locales/*/sphinx.po)

    label = str(_("Show or hide the pages under {section}"))
    return SIDEBAR_SUMMARY.sub(
        lambda m: f'{m.group(1)}<summary aria-label="{label.format(section=m.group(2))}">', html)


def _trim_page_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    mathjax_path = str(app.config.mathjax_path or "")
    body = str(context.get("body") or "")
    has_maths = 'class="math' in body or "mathjax_process" in body or "tex2jax_process" in body
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        scripts[:] = [s for s in scripts if _keep_script(s, mathjax_path)]
        if "sd-tab" not in body:  # sphinx-design's tab script, for pages with tab sets only
            scripts[:] = [s for s in scripts if _filename(s) != "design-tabs.js"]
        # Maths typeset at build time (_prerender_maths) needs no MathJax in the browser;
        # myst-nb's "always" asset policy would otherwise load it even on pages without maths.
        if not has_maths or _node(app):
            scripts[:] = [
                s
                for s in scripts
                if _filename(s) != mathjax_path
                and not str(getattr(s, "attributes", {}).get("body", "")).startswith("window.MathJax")
            ]
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


def rewrite_raw_nodes(doctree: nodes.document, rewrite: Callable[[str], str]) -> None:
    """Replace each raw node whose text ``rewrite`` changes (shared by the raw-HTML fixes)."""
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        new = rewrite(text)
        if new != text:
            node.replace_self(nodes.raw("", new, format=node.get("format", "html")))


def _fix_raw_nodes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    rewrite_raw_nodes(doctree, _fix_raw_html)


def _entry_name(entry: Any) -> str:
    name = entry[0] if isinstance(entry, (tuple, list)) else entry
    return str(name or "")


# .fa-bars:before,.fa-navicon:before{content:"\f0c9"}
ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:{1,2}before,?)+)\{content:"([^"]*)"\}')
FA_NAME = re.compile(r"fa-[a-z0-9-]+")
CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?")
FA_WEBFONTS = "vendor/fontawesome/webfonts"


def _codepoints(css_text: str) -> set[int]:
    return {int(h, 16) for h in CSS_ESCAPE.findall(css_text)}


def _slim_icons(app: Sphinx, exception: Exception | None) -> None:
    """Drop unused Font Awesome rules from the theme CSS and subset its fonts (after the build)."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    theme_css = static / "styles" / "pydata-sphinx-theme.css"
    fonts = static / FA_WEBFONTS
    if not theme_css.exists() or not fonts.is_dir():
        return
    used: set[str] = set()
    for path in [*outdir.rglob("*.html"), *static.rglob("*.js")]:
        if "mathjax" in path.parts:
            continue
        used.update(FA_NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    css = theme_css.read_text(encoding="utf-8")

    def keep_rule(match: re.Match[str]) -> str:
        names = {n[1:].split(":")[0] for n in match.group(1).rstrip(",").split(",")}
        return match.group(0) if names & used else ""

    css = ICON_RULE.sub(keep_rule, css)
    # Every glyph still named anywhere in the CSS (kept icon rules, --pst-icon-* variables...).
    keep = set()
    for path in static.rglob("*.css"):
        if "mathjax" not in path.parts:
            keep |= _codepoints(css if path == theme_css else path.read_text(errors="replace"))
    from fontTools import subset  # matplotlib's dependency

    for ttf in sorted(fonts.glob("fa-*.ttf")):
        woff = ttf.with_suffix(".subset.woff")
        options = subset.Options()
        options.flavor = "woff"
        options.layout_features = ["*"]
        font = subset.load_font(str(ttf), options)
        cmap = font.getBestCmap() or {}
        sub = subset.Subsetter(options)
        sub.populate(unicodes=sorted(keep & set(cmap)) or [0x20])
        sub.subset(font)
        subset.save_font(font, str(woff), options)
        rel = f"../{FA_WEBFONTS}/{ttf.stem}"
        css = re.sub(
            re.escape(f"url({rel}.woff2)") + r' format\("woff2"\),' + re.escape(f"url({rel}.ttf)")
            + r' format\("truetype"\)',
            f'url({rel}.subset.woff) format("woff")',
            css,
        )
        for unused in (ttf, ttf.with_suffix(".woff2")):  # no longer referenced: keep the site small
            unused.unlink(missing_ok=True)
    theme_css.write_text(css, encoding="utf-8")


# Class names that Bootstrap / the theme compose at run time (e.g. "bs-tooltip-" + placement).
SAFE_PREFIXES = (
    "bs-", "show", "fade", "collaps", "tooltip", "dropdown",
    "active", "disabled", "focus", "hiding", "pst-", "bd-", "theme-", "mjx", "MathJax", "sd-tab",
    "search", "highlight", "toggle", "copybtn", "o-tooltip", "scrolled", "sidebar",
)
PURGED_CSS = ("styles/*.css", "*.css")  # under _static; not MathJax's
SELECTOR_NAME = re.compile(r"[.#]((?:\\.|[A-Za-z0-9_-])+)")
PSEUDO = re.compile(r"::?[a-zA-Z-]+(\([^)]*\))?")


def _purge_css(css: str, words: set[str]) -> str:
    """Drop the rules whose selectors all name a class or id found in no page or script."""
    import tinycss2  # nbconvert's dependency (bleach[css])

    def selector_used(selector: str) -> bool:
        for name in SELECTOR_NAME.findall(PSEUDO.sub("", selector)):
            name = name.replace("\\", "")
            if name not in words and not name.startswith(SAFE_PREFIXES):
                return False
        return True

    def walk(rules: list[Any]) -> list[str]:
        out = []
        for rule in rules:
            if rule.type == "qualified-rule":
                selectors = [x.strip() for x in tinycss2.serialize(rule.prelude).split(",")]
                kept = [x for x in selectors if selector_used(x)]
                if kept:
                    out.append(",".join(kept) + "{" + tinycss2.serialize(rule.content) + "}")
            elif rule.type == "at-rule":
                grouping = rule.lower_at_keyword in {"media", "supports", "layer", "container"}
                if grouping and rule.content is not None:
                    inner = walk(tinycss2.parse_rule_list(rule.content, True, True))
                    if inner:
                        prelude = tinycss2.serialize(rule.prelude)
                        out.append(f"@{rule.at_keyword}{prelude}{{{''.join(inner)}}}")
                else:
                    out.append(rule.serialize())
        return out

    return "".join(walk(tinycss2.parse_stylesheet(css, True, True)))


def _purge_unused_css(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    words: set[str] = set()
    for path in [*outdir.rglob("*.html"), *static.rglob("*.js")]:
        # bootstrap.js names every Bootstrap component (modal, toast, carousel...); the classes it
        # really adds at run time are in SAFE_PREFIXES.
        if "mathjax" not in path.parts and path.name != "bootstrap.js":
            words.update(re.findall(r"[A-Za-z0-9_-]+", path.read_text(errors="replace")))
    for pattern in PURGED_CSS:
        for path in sorted(static.glob(pattern)):
            css = path.read_text(encoding="utf-8")
            path.write_text(_purge_css(css, words), encoding="utf-8")


def _palette_png(data: bytes) -> bytes:
    """``data`` re-encoded as a 256-colour palette PNG, or unchanged if that is not smaller."""
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(io.BytesIO(data)) as image:
        if image.mode == "P":
            return data
        rgb = image.convert("RGBA").convert("RGB") if image.mode in ("RGBA", "LA") else image.convert("RGB")
        palette = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        out = io.BytesIO()
        palette.save(out, format="PNG", optimize=True)
    smaller = out.getvalue()
    return smaller if len(smaller) < len(data) else data


# matplotlib's HTMLWriter embeds frames as  frames[i] = "data:image/png;base64,<b64 with \\\n>";
EMBEDDED_PNG = re.compile(r'"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"')


def _reencode_embedded(match: re.Match[str]) -> str:
    raw = base64.b64decode(match.group(1).replace("\\\n", "").replace("\n", ""))
    return '"data:image/png;base64,' + base64.b64encode(_palette_png(raw)).decode("ascii") + '"'


def _shrink_images(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for path in sorted((outdir / "_images").glob("*.png")):
        data = path.read_bytes()
        smaller = _palette_png(data)
        if smaller is not data:
            path.write_bytes(smaller)
    for page in sorted(outdir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if "_anim_img" in text and "data:image/png;base64," in text:
            page.write_text(EMBEDDED_PNG.sub(_reencode_embedded, text), encoding="utf-8")


# ---------------------------------------------------------------- maths typeset at build time
NODE_SCRIPT = HERE / "mathjax_node" / "prerender.js"
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


def _node(app: Sphinx) -> str | None:
    """Path of ``node`` when maths is typeset at build time (HTML builders only)."""
    if not hasattr(app, "_l2book_node"):
        node = shutil.which("node") if app.builder.format == "html" else None
        app._l2book_node = node  # type: ignore[attr-defined]
        if node is None and app.builder.format == "html":
            LOGGER.info(
                "l2book_assets: Node.js (node) was not found on PATH, so maths is typeset in the "
                "reader's browser by the vendored MathJax instead of at build time."
            )
    return app._l2book_node  # type: ignore[attr-defined]


def _tex_of(match: re.Match[str]) -> tuple[str, bool] | None:
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


def _typeset(app: Sphinx, node: str, pages: dict[str, list[list[Any]]]) -> dict[str, Any]:
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
        [node, str(NODE_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
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


def _prerender_maths(app: Sphinx, exception: Exception | None) -> None:
    """Replace the TeX of every built page by MathJax's CHTML (one Node run for all pages)."""
    if exception is not None or app.builder.format != "html":
        return
    node = _node(app)
    if node is None:
        return
    outdir = Path(app.outdir)
    cache_path = Path(app.doctreedir) / CACHE_NAME
    try:
        cache: dict[str, list[list[Any]]] = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    todo: dict[str, tuple[Path, str]] = {}
    for path in sorted(outdir.rglob("*.html")):
        if "_static" in path.parts or "_sources" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if 'class="math notranslate nohighlight"' not in text:
            continue
        items = [t for t in (_tex_of(m) for m in MATH_ELEMENT.finditer(text)) if t is not None]
        if items:  # a page written (or left untypeset) by this build
            name = path.relative_to(outdir).as_posix()
            todo[name] = (path, text)
            cache[name] = [list(t) for t in items]
    css_file = outdir / "_static" / MATHJAX_CSS
    if not todo and css_file.exists():
        return  # nothing new to typeset: Node is not started
    cache = {k: v for k, v in cache.items() if (outdir / k).exists()}
    # Every page's maths, so that the stylesheet covers the characters of every page.
    result = _typeset(app, node, cache)
    for name, (path, text) in todo.items():
        rendered = iter(result["pages"][name])
        depth = name.count("/")
        href = "../" * depth + "_static/" + MATHJAX_CSS

        def replace(match: re.Match[str]) -> str:
            if _tex_of(match) is None:
                return match.group(0)
            if match.group(1) is not None:
                return match.group(1) + next(rendered) + match.group(3)
            return match.group(4) + next(rendered) + match.group(6)

        text = MATHJAX_SCRIPTS.sub("", MATH_ELEMENT.sub(replace, text))
        if href not in text:
            text = text.replace("</head>", STYLESHEET_LINK.format(href=href) + "</head>", 1)
        path.write_text(text, encoding="utf-8")
    css = result["css"]
    if not css_file.exists() or css_file.read_text(encoding="utf-8") != css:
        css_file.parent.mkdir(parents=True, exist_ok=True)
        css_file.write_text(css, encoding="utf-8")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache), encoding="utf-8")
    LOGGER.info(
        f"l2book_assets: typeset {sum(len(v) for v in cache.values())} formulas of {len(cache)} "
        f"pages with MathJax in Node ({len(todo)} page(s) rewritten)"
    )


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
    app.setup_extension("l2book_responsive")  # the book on a phone (issue 21)
    app.connect("config-inited", _configure)
    app.connect("doctree-resolved", _fix_raw_nodes)
    app.add_js_file("l2book.js", defer="defer")
    # First, so that the steps below see the final pages.
    app.connect("build-finished", _prerender_maths, priority=400)
    app.connect("build-finished", _slim_icons)
    app.connect("build-finished", _purge_unused_css, priority=600)
    app.connect("build-finished", _shrink_images, priority=700)
    # After sphinx.ext.mathjax (priority 500) has added its script for the page.
    app.connect("html-page-context", _trim_page_assets, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
