"""pytest plugin: nbval compares glued figures by what they are, not by their bytes.

myst-nb's ``glue`` stores a figure as ``application/papermill.record/image/png``. nbval skips
``image/png`` but compares this key byte for byte, and the bytes change with anything that moves
one anti-aliased pixel: the BLAS kernel (``OPENBLAS_CORETYPE``), the thread count, FreeType. On a
machine whose OpenBLAS picked SkylakeX instead of Haswell two chapters failed for that alone.

Loaded for every pytest run (``-p nbval_figures`` in ``pyproject.toml``, so a single-notebook
``pytest --nbval chapters/x.ipynb`` gets it too). Before nbval compares a cell, each glued PNG, the
stored one and the freshly produced one, is replaced by :func:`describe_png`: the PNG must decode,
keep its pixel size and not be blank, and nbval's strict comparison then checks exactly that.
Decoding costs under 50 ms per figure (measured on a loaded 2-core machine, PIL import included;
chapters 01-05 glue 24 figures).
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import pytest

GLUED_PNG = "application/papermill.record/image/png"
# A real figure has axes, ticks and labels: far more than 1 % of its pixels differ from the
# background colour. A blank canvas (or a lone hairline) does not.
MIN_INK_FRACTION = 0.01


def describe_png(data: str | bytes) -> str:
    """One stable line for a base64 PNG: its size, or why it is not a usable figure.

    ``<glued PNG 472x280, not blank>`` for a good figure; the same line for two renderings of one
    figure on different CPUs. Anything else (undecodable, blank) reads differently, so nbval's
    comparison with the stored line fails and shows why.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data, validate=False)
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            if img.format != "PNG":
                return f"<glued figure is {img.format}, not PNG>"
            rgb = img.convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        return f"<glued PNG that does not decode: {type(exc).__name__}>"
    width, height = rgb.size
    colours = rgb.getcolors(maxcolors=width * height) or []
    background = max(colours)[0] if colours else width * height
    ink = 1 - background / (width * height)
    state = "not blank" if ink >= MIN_INK_FRACTION else f"BLANK ({ink:.2%} ink)"
    return f"<glued PNG {width}x{height}, {state}>"


def _with_pngs_described(outputs: list[Any]) -> list[Any]:
    """Copies of notebook outputs whose glued PNGs are replaced by their description."""
    from nbformat import NotebookNode

    result = []
    for out in outputs:
        data = out.get("data")
        if isinstance(data, dict) and GLUED_PNG in data:
            out = NotebookNode(out)
            out["data"] = NotebookNode({**data, GLUED_PNG: describe_png(data[GLUED_PNG])})
        result.append(out)
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Wrap nbval's per-cell comparison so that glued PNGs are compared as descriptions."""
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: nothing to adapt
        return
    for item in items:
        if isinstance(item, IPyNbCell):
            compare = item.compare_outputs

            def compare_described(test, ref, skip_compare=None, _compare=compare):
                return _compare(_with_pngs_described(test), _with_pngs_described(ref), skip_compare)

            item.compare_outputs = compare_described  # type: ignore[method-assign]
