"""The nbval_figures plugin: glued figures compare by size and content, and its guards fail.

Proves, on small synthetic notebooks run by nbval in a subprocess with the course's pytest
configuration, that a glued figure whose bytes differ (as on another CPU) passes, while a figure
of another size, a blank one or a corrupt one fails.
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
from PIL import Image

from conftest import REPO
from nbval_figures import GLUED_PNG, describe_png

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIGURE_CELL = """\
import matplotlib.pyplot as plt
from myst_nb import glue
fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
ax.plot([0, 1, 2], [0, 1, 0.5])
ax.set_xlabel("x")
glue("fig{i}", fig, display=False)
plt.close(fig)
"""


def png_b64(figsize=(3, 2), y2=0.5, blank=False) -> str:
    """A small matplotlib figure as base64 PNG, saved like IPython does (tight bounding box)."""
    fig, ax = plt.subplots(figsize=figsize, dpi=50)
    if blank:
        ax.set_axis_off()
    else:
        ax.plot([0, 1, 2], [0, 1, y2])
        ax.set_xlabel("x")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_description_ignores_bytes_but_not_size_or_blankness() -> None:
    a, b = png_b64(y2=0.5), png_b64(y2=0.5 + 1e-3)
    assert a != b, "the two renderings should differ in their bytes"
    assert describe_png(a) == describe_png(b)
    assert describe_png(a).endswith(", not blank>")
    assert describe_png(png_b64(figsize=(4, 2))) != describe_png(a)
    assert "BLANK" in describe_png(png_b64(blank=True))
    assert "does not decode" in describe_png(a[: len(a) // 2])
    assert "does not decode" in describe_png("not base64 at all!")


def altered(png: str, how: str) -> str:
    """The PNG with one pixel changed (same size, other bytes), 10 px wider, or blanked."""
    with Image.open(io.BytesIO(base64.b64decode(png))) as img:
        img = img.convert("RGBA")
    if how == "one pixel":
        img.putpixel((0, 0), (1, 2, 3, 255))
    elif how == "wider":
        img = img.resize((img.width + 10, img.height))
    elif how == "blank":
        img = Image.new("RGBA", img.size, (255, 255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


CASES = {0: ("one pixel", True), 1: ("wider", False), 2: ("blank", False)}


def test_nbval_compares_glued_figures_by_description(tmp_path: Path) -> None:
    """A glued figure with other bytes passes nbval; one of another size or a blank one fails."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(FIGURE_CELL.format(i=i)) for i in CASES]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(nb, timeout=300).execute()
    for i, (how, _) in CASES.items():
        (out,) = nb.cells[i].outputs
        fresh = out["data"][GLUED_PNG]
        out["data"][GLUED_PNG] = altered(fresh, how)
        assert out["data"][GLUED_PNG] != fresh
    path = tmp_path / "figures.ipynb"
    nbformat.write(nb, path)

    config = str(REPO / "pyproject.toml")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-rA", "-c", config, str(path)]
    # pytest prints untruncated summary lines when CI or BUILD_NUMBER is set (as on CI), which would
    # repeat each mismatch message: run the inner session as on a developer's machine.
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    for i, (how, passes) in CASES.items():
        verdict = "PASSED" if passes else "FAILED"
        assert re.search(rf"^{verdict} \S*::Cell {i}\b", log, flags=re.M), f"{how}: {log[-4000:]}"
    assert log.count("mismatch 'application/papermill.record/image/png'") == 2, log[-4000:]
