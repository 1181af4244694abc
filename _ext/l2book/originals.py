"""Sphinx's own copies of the output files the post-build steps rewrite, put back before a rebuild.

Sphinx copies static files and images into the output on every build and, when the file already
there differs from its source, logs "Copying the source path … will overwrite data" (Sphinx 7.4,
``sphinx.util.osutil.copyfile``): once per stylesheet purged (``purge_css``, ``icons``) and per
PNG re-encoded (``images``), 33 lines on an unchanged rebuild. So, before ``scan`` rewrites
anything, the files it may rewrite are kept under the doctree folder, and they are put back when
the next build starts: Sphinx finds its own copies, and the rewriting runs again from them. (An
output folder built before this existed holds rewritten files only: its first rebuild still
reports them, once.) Cost: a copy of the stylesheets and figures per build, about 3 MB, < 0.1 s.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from sphinx.application import Sphinx

FOLDER = "l2book_originals"


def _root(app: Sphinx) -> Path:
    return Path(app.doctreedir) / FOLDER / app.builder.name


def keep(app: Sphinx, paths: Iterable[Path]) -> None:
    """Save Sphinx's version of each output file in ``paths`` (before any rewrite of this build)."""
    outdir = Path(app.outdir)
    for path in paths:
        saved = _root(app) / path.relative_to(outdir)
        if not saved.exists():
            saved.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, saved)


def restore(app: Sphinx) -> None:
    """``builder-inited``: put Sphinx's own copies back before it copies its files again."""
    root = _root(app)
    if not root.is_dir():
        return
    outdir = Path(app.outdir)
    for saved in sorted(p for p in root.rglob("*") if p.is_file()):
        dest = outdir / saved.relative_to(root)
        if dest.parent.is_dir():
            shutil.copyfile(saved, dest)
    shutil.rmtree(root)
