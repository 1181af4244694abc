"""Font Awesome trimmed to the icons the book names, its fonts subset to their glyphs.

pydata-sphinx-theme's CSS carries rules for all ~1,900 Font Awesome icons and three web fonts
(0.3 MB, of which a page uses a dozen glyphs). After the build (``scan.py`` collects the ``fa-*``
names of every page and script), the rules for icons nothing names are dropped and the fonts are
subset to the glyphs still referenced (woff). Cost: fontTools subsets three fonts, ~1 s.
"""

from __future__ import annotations

import re
from pathlib import Path

# .fa-bars:before,.fa-navicon:before{content:"\f0c9"}
ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:{1,2}before,?)+)\{content:"([^"]*)"\}')
FA_NAME = re.compile(r"fa-[a-z0-9-]+")
CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?")
FA_WEBFONTS = "vendor/fontawesome/webfonts"
THEME_CSS = "styles/pydata-sphinx-theme.css"  # under _static


def _codepoints(css_text: str) -> set[int]:
    return {int(h, 16) for h in CSS_ESCAPE.findall(css_text)}


def drop_unused_rules(css: str, used: set[str]) -> str:
    """``css`` without the icon rules none of whose ``fa-*`` names is in ``used``."""

    def keep_rule(match: re.Match[str]) -> str:
        names = {n[1:].split(":")[0] for n in match.group(1).rstrip(",").split(",")}
        return match.group(0) if names & used else ""

    return ICON_RULE.sub(keep_rule, css)


def _subset_font(ttf: Path, keep: set[int]) -> None:
    """Write ``ttf``'s glyphs for ``keep`` as ``<name>.subset.woff``."""
    from fontTools import subset  # matplotlib's dependency

    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    font = subset.load_font(str(ttf), options)
    cmap = font.getBestCmap() or {}
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(keep & set(cmap)) or [0x20])
    sub.subset(font)
    subset.save_font(font, str(ttf.with_suffix(".subset.woff")), options)


def slim_icons(static: Path, used: set[str]) -> None:
    """Drop unused icon rules from the theme CSS under ``static`` and subset its fonts."""
    theme_css = static / THEME_CSS
    fonts = static / FA_WEBFONTS
    if not theme_css.exists() or not fonts.is_dir():
        return
    css = drop_unused_rules(theme_css.read_text(encoding="utf-8"), used)
    # Every glyph still named anywhere in the CSS (kept icon rules, --pst-icon-* variables...).
    keep: set[int] = set()
    for path in static.rglob("*.css"):
        if "mathjax" not in path.parts:
            keep |= _codepoints(css if path == theme_css else path.read_text(errors="replace"))
    for ttf in sorted(fonts.glob("fa-*.ttf")):
        _subset_font(ttf, keep)
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
