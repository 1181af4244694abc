"""One pass over the built site after a successful HTML build, for every post-build fix.

Four fixes work on the finished files: ``maths`` (typeset TeX), ``icons`` (needs every ``fa-*``
name used), ``purge_css`` (needs every word used) and ``images`` (re-encodes animation frames).
Each used to read every page itself; here each page is read once, rewritten by the per-page
rewriters in order (maths first, so the words are those of the final markup; frames last, so
their base64 is not mistaken for class names), written once if it changed, and its words
collected on the way. Then the site-wide steps run on what was collected.

Cost: one read (and at most one write) of each of the ~30 built pages (17 MB with the inlined
animation frames), instead of four reads and two writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sphinx.application import Sphinx

from . import images, maths, originals
from .icons import FA_NAME, slim_icons
from .purge_css import IGNORED_SCRIPTS, WORD, purge_static


@dataclass
class Names:
    """What the pages and scripts name: ``fa-*`` icons and every word (for unused CSS)."""

    icons: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)

    def add(self, path: Path, text: str, *, words: bool = True) -> None:
        if "mathjax" in path.parts:  # MathJax's own files name no theme class or icon
            return
        self.icons.update(FA_NAME.findall(text))
        if words:
            self.words.update(WORD.findall(text))


def rewrite_pages(app: Sphinx, outdir: Path, names: Names) -> None:
    """Read each built page once, apply the per-page rewriters, collect its names, write it."""
    pages = {path: path.read_text(encoding="utf-8") for path in sorted(outdir.rglob("*.html"))}
    typeset = maths.prepare(app, pages)
    for path, text in pages.items():
        new = typeset(path, text) if typeset else text
        names.add(path, new)
        new = images.reencode_embedded(path, new)
        if new != text:
            path.write_text(new, encoding="utf-8")


def after_html_build(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished``: the post-build fixes, only after an HTML build finished without error."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    originals.keep(app, [*(p for p in static.rglob("*.css") if "mathjax" not in p.parts),
                         *(outdir / "_images").glob("*.png")])
    names = Names()
    rewrite_pages(app, outdir, names)
    for script in static.rglob("*.js"):
        text = script.read_text(errors="replace")
        names.add(script, text, words=script.name not in IGNORED_SCRIPTS)
    slim_icons(static, names.icons)
    purge_static(static, names.words)
    images.shrink_figures(outdir / "_images")
