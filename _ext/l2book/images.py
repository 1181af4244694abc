"""Figures re-encoded with a 256-colour palette when that is smaller.

Figures are matplotlib PNGs with a few dozen distinct colours stored as 24-bit RGBA. After the
build, each PNG in ``_images/`` and each frame embedded in a ``to_jshtml()`` animation (rewritten
page by page in ``scan.py``'s pass) is re-encoded with a 256-colour palette (median cut, no
dithering) when that is smaller — about a third of the bytes, with no visible change. The
notebooks keep their original outputs. Cost: Pillow, ~2 s for the book's ~60 figures and frames.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

# matplotlib's HTMLWriter embeds frames as  frames[i] = "data:image/png;base64,<b64 with \\\n>";
EMBEDDED_PNG = re.compile(r'"data:image/png;base64,([A-Za-z0-9+/=\\\n]+)"')


def palette_png(data: bytes) -> bytes:
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


def _reencode(match: re.Match[str]) -> str:
    raw = base64.b64decode(match.group(1).replace("\\\n", "").replace("\n", ""))
    return '"data:image/png;base64,' + base64.b64encode(palette_png(raw)).decode("ascii") + '"'


def reencode_embedded(path: Path, text: str) -> str:
    """A page's text with the frames of its ``to_jshtml()`` animations palette-encoded."""
    if "_anim_img" in text and "data:image/png;base64," in text:
        return EMBEDDED_PNG.sub(_reencode, text)
    return text


def shrink_figures(images: Path) -> None:
    """Re-encode each PNG in ``images`` (the build's ``_images/``) where that is smaller."""
    for path in sorted(images.glob("*.png")):
        data = path.read_bytes()
        smaller = palette_png(data)
        if smaller is not data:
            path.write_bytes(smaller)
