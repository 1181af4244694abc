"""TeX typeset on the grader's machine, as the book does it: MathJax 3 CHTML, no CDN, no script.

The book typesets its maths at build time with its vendored MathJax 3.2.2 run in Node
(``_ext/mathjax_node/prerender.js`` over ``_static/mathjax/``, see ``_ext/l2book_assets.py``).
The feedback pages reuse exactly that: one Node run turns a list of formulas into MathJax's CHTML
markup and stylesheet; the woff fonts the page's formulas need are inlined as ``data:`` URIs, so
a page is one self-contained file that renders offline (and needs no JavaScript).

Cost: ~0.5-1 s per Node run. Formulas are cached per process (the release's maths is typeset once
per ``l2course grade``); only a learner's own new TeX starts Node again. Without ``node`` on PATH
or without the vendored copy, :meth:`Typesetter.find` returns None and pages show the TeX source.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path("_ext") / "mathjax_node" / "prerender.js"
MATHJAX = Path("_static") / "mathjax"
FONTS = "output/chtml/fonts/woff-v2"
#: The book's scale (``MATHJAX_SCALE`` in _ext/l2book_assets.py): maths matches the text's x-height.
SCALE = 1.273
FONT_FACE = re.compile(r'@font-face[^{]*\{\s*font-family:\s*([\w-]+);\s*src:\s*url\("FONTS/([\w.-]+)"\)'
                       r'\s*format\("woff"\);\s*\}')
#: TeX packages a formula may load (``\require`` or autoload): learners' TeX runs here, outside
#: the sandbox, so no other name is loaded (MathJax already refuses names that are not plain).
REQUIRE = {"defaultAllow": False, "allow": {name: True for name in (
    "action", "amscd", "bbox", "boldsymbol", "braket", "cancel", "cases", "color", "empheq",
    "enclose", "extpfeil", "gensymb", "mathtools", "mhchem", "newcommand", "noerrors",
    "noundefined", "physics", "textmacros", "unicode", "upgreek", "verb")}}
#: The package's own checkout (an editable install), searched after the course root.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class Typesetter:
    """MathJax in Node over the vendored copy in ``root`` (a checkout of the book)."""

    def __init__(self, node: str, root: Path) -> None:
        self.node, self.root = node, root
        self.cache: dict[tuple[str, bool], str] = {}
        self.rules: dict[str, None] = {}  # CHTML stylesheet rules seen so far, in order
        self.fonts: dict[str, str] = {}  # font-family -> woff file name

    @classmethod
    def find(cls, *roots: Path) -> Typesetter | None:
        """A typesetter over the first of ``roots`` (then this package's checkout) that has the
        vendored MathJax, or None if there is none or ``node`` is not on PATH."""
        node = shutil.which("node")
        if node is None:
            return None
        for root in (*roots, PACKAGE_ROOT):
            if (root / SCRIPT).is_file() and (root / MATHJAX / "core.js").is_file():
                return _shared(node, root.resolve())
        return None

    def typeset(self, items: list[tuple[str, bool]]) -> list[str | None]:
        """CHTML markup of each ``(tex, display)``; None for a formula MathJax rejects."""
        todo = sorted({item for item in items if item not in self.cache})
        if todo:
            self._run(todo)
        return [self.cache.get(item) or None for item in items]

    def _run(self, todo: list[tuple[str, bool]]) -> None:
        request = {"mathjax": str(self.root / MATHJAX), "fontURL": "FONTS", "scale": SCALE,
                   "tex": {"tags": "ams", "require": REQUIRE},
                   "pages": [{"name": "p", "items": [{"tex": t, "display": d} for t, d in todo]}]}
        proc = subprocess.run([self.node, str(self.root / SCRIPT)], input=json.dumps(request),
                              capture_output=True, text=True, encoding="utf-8", timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"MathJax in Node failed: {proc.stderr[-1000:]}")
        out = json.loads(proc.stdout)
        for item, markup in zip(todo, out["pages"]["p"]):
            self.cache[item] = markup  # "" for a TeX error: shown as TeX source
        css = out["css"]
        for match in FONT_FACE.finditer(css):
            self.fonts[match.group(1)] = match.group(2)
        for rule in re.split(r"(?<=\})\s*\n", FONT_FACE.sub("", css)):
            if rule.strip():
                self.rules.setdefault(rule.strip())

    def stylesheet(self, markup: str) -> str:
        """The CHTML rules plus, as ``data:`` URIs, the fonts ``markup`` uses."""
        families = {"MJXZERO", "MJXTEX"} | {f"MJXTEX-{c}" for c in
                                            re.findall(r"\bTEX-([A-Z0-9]+)\b", markup)}
        faces = [self._face(family) for family in sorted(families) if family in self.fonts]
        return "\n".join([*faces, *self.rules])

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one typesetter per checkout and process)
    def _face(self, family: str) -> str:
        data = base64.b64encode((self.root / MATHJAX / FONTS / self.fonts[family]).read_bytes())
        return (f"@font-face {{font-family: {family}; "
                f'src: url("data:font/woff;base64,{data.decode()}") format("woff");}}')


_TYPESETTERS: dict[tuple[str, Path], Typesetter] = {}


def _shared(node: str, root: Path) -> Typesetter:
    """One typesetter (and cache) per checkout and process."""
    return _TYPESETTERS.setdefault((node, root), Typesetter(node, root))
