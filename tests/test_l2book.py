"""Unit tests of the book extension's pure parts (``_ext/l2book``): no Sphinx build.

The end-to-end guarantees (a strict build, pages light and private, maths typeset, axe clean) are
in test_build.py and test_browser.py; these pin each fix's rule on small inputs.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from l2book import images, purge_css, raw_html, sidebar, theme
from l2book.icons import drop_unused_rules
from l2book.page_assets import keep_script


def test_theme_digest_is_read_from_the_installed_theme() -> None:
    digest = theme.theme_digest()
    assert re.fullmatch(r"[0-9a-f]{8,}", digest)
    override = (theme.TEMPLATES / "static" / "webpack-macros.html").read_text(encoding="utf-8")
    assert "{{ l2book_theme_digest }}" in override and digest not in override  # nothing pinned


def test_cdn_stylesheet_is_dropped_and_nothing_else() -> None:
    link = '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css">\n'
    assert raw_html.drop_cdn_stylesheet(link + "<div>x</div>") == "<div>x</div>"
    local = '<link rel="stylesheet" href="_static/x.css">'
    assert raw_html.drop_cdn_stylesheet(local) == local


def test_sidebar_summaries_are_named_after_their_section() -> None:
    html = '<a class="reference internal" href="a.html">Exercises</a><details><summary><i></i></summary>'
    assert 'aria-label="Show or hide the pages under Exercises"' in sidebar.label_summaries(html)


def test_thebe_and_eager_mathjax_scripts_are_dropped() -> None:
    assert not keep_script("_static/sphinx-thebe.js", "mathjax/startup.js")
    assert not keep_script("_static/mathjax/input/tex.js", "mathjax/startup.js")
    assert keep_script("_static/mathjax/startup.js", "mathjax/startup.js")
    assert keep_script("_static/l2book.js", "mathjax/startup.js")


def test_purge_keeps_used_and_runtime_classes_only() -> None:
    css = ".used{a:1}.unused{b:2}.show{c:3}@media (x){.unused{d:4}.used{e:5}}"
    out = purge_css.purge_css(css, {"used"})
    assert ".used{a:1}" in out and ".show{c:3}" in out and "unused" not in out
    assert "@media (x){.used{e:5}}" in out


def test_icon_rules_nobody_names_are_dropped() -> None:
    css = '.fa-bars:before,.fa-navicon:before{content:"\\f0c9"}.fa-x:before{content:"\\f00d"}'
    out = drop_unused_rules(css, {"fa-navicon"})
    assert "fa-bars" in out and "fa-x" not in out


def _png(mode: str) -> bytes:
    from PIL import Image

    image = Image.new(mode, (64, 64), "white")
    for x in range(64):
        image.putpixel((x, x), (0, 114, 178, 255)[: len(mode)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_palette_png_is_never_larger() -> None:
    data = _png("RGBA")
    smaller = images.palette_png(data)
    assert len(smaller) <= len(data)


def test_only_animation_frames_are_reencoded() -> None:
    frame = base64.b64encode(_png("RGBA")).decode()
    page = f'<img id="_anim_img1"> frames[0] = "data:image/png;base64,{frame}";'
    out = re.search(r'base64,([^"]+)"', images.reencode_embedded(Path("p.html"), page)).group(1)
    assert out == base64.b64encode(images.palette_png(base64.b64decode(frame))).decode()
    plain = f'<img src="data:image/png;base64,{frame}">'  # a figure, not an animation
    assert images.reencode_embedded(Path("p.html"), plain) == plain
