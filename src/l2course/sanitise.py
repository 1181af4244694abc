"""Restore a submission's nbgrader metadata from the release, before nbgrader sees it.

A sanitising preprocessor in nbgrader's shape (one concern, data in ``resources``), run by
:func:`l2course.submissions.collect` in the trusted parent, before a submission is staged:

* every cell's ``nbgrader`` metadata is replaced by the release's for the same ``grade_id``
  (so ``grade: false``, changed points or a re-typed cell cannot fool or crash nbgrader);
  unknown or duplicated ``grade_id``\\ s lose their nbgrader metadata;
* edited, re-typed or deleted test cells are noted (nbgrader's ``OverwriteCells`` restores them
  from the source, ``add_missing_cells`` puts deleted ones back);
* the kernelspec is the release's, so the kernel name is trusted.

The notes go to ``resources["l2course"]["notes"]``; :func:`notes_cell` shows them to the student.
"""

from __future__ import annotations

import copy
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Instance

#: nbgrader metadata that decides how a cell is graded (compared with the release).
TRUSTED_KEYS = ("grade", "solution", "locked", "task", "points", "grade_id")
NOTES_HEADING = "**Grader notes** (added by `l2course grade`):"


def nbgrader_meta(cell: NotebookNode) -> dict | None:
    """The cell's ``nbgrader`` metadata if it is a dict, else None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def notes_cell(notes: list[str]) -> NotebookNode:
    """The markdown cell put at the top of a graded notebook that needed normalising."""
    return nbformat.v4.new_markdown_cell(
        NOTES_HEADING + "\n\n" + "\n".join(f"- {note}" for note in notes))


class RestoreMetadata(Preprocessor):
    """Give every cell the release's nbgrader metadata (see the module docstring)."""

    release = Instance(NotebookNode, help="The release notebook the submission answers")

    def preprocess(self, nb: NotebookNode, resources: Any = None) -> Any:
        resources = {} if resources is None else resources
        notes = resources.setdefault("l2course", {}).setdefault("notes", [])
        reference = self._reference()
        seen: set[str] = set()
        for cell in nb.cells:
            notes.extend(self._restore(cell, reference, seen))
        for grade_id, ref in reference.items():
            if grade_id not in seen and (nbgrader_meta(ref) or {}).get("locked"):
                notes.append(f"cell {grade_id!r}: deleted; restored from the source")
        nb.metadata["kernelspec"] = copy.deepcopy(self.release.metadata.get("kernelspec", {}))
        return nb, resources

    def _reference(self) -> dict[str, NotebookNode]:
        """The release's cells by ``grade_id``."""
        cells = {}
        for cell in self.release.cells:
            meta = nbgrader_meta(cell)
            if meta and meta.get("grade_id"):
                cells[meta["grade_id"]] = cell
        return cells

    def _restore(self, cell: NotebookNode, reference: dict[str, NotebookNode],
                 seen: set[str]) -> list[str]:
        """Restore one cell's metadata; return the notes about it."""
        meta = nbgrader_meta(cell)
        if meta is None:
            if "nbgrader" not in cell.get("metadata", {}):
                return []
            del cell.metadata["nbgrader"]
            return ["malformed nbgrader metadata removed"]
        grade_id = meta.get("grade_id")
        if grade_id not in reference or grade_id in seen:
            del cell.metadata["nbgrader"]
            what = "duplicate" if grade_id in seen else "unknown"
            return [f"cell {grade_id!r}: {what} grade_id, nbgrader metadata removed"]
        seen.add(grade_id)
        return self._copy_from(cell, reference[grade_id], meta)

    @staticmethod
    def _copy_from(cell: NotebookNode, ref: NotebookNode, meta: dict) -> list[str]:
        notes = []
        ref_meta = nbgrader_meta(ref) or {}
        grade_id = ref_meta.get("grade_id")
        changed = sorted(k for k in TRUSTED_KEYS if meta.get(k) != ref_meta.get(k))
        if changed:
            detail = ", ".join(f"{k}: {meta.get(k)!r}" for k in changed)
            notes.append(f"cell {grade_id!r}: nbgrader metadata altered ({detail}); restored")
        cell.metadata["nbgrader"] = copy.deepcopy(ref_meta)
        for key in ("deletable", "editable"):
            if key in ref.metadata:
                cell.metadata[key] = ref.metadata[key]
        if cell.cell_type != ref.cell_type:
            notes.append(f"cell {grade_id!r}: re-typed as {cell.cell_type}; "
                         f"restored as {ref.cell_type}")
        elif ref_meta.get("locked") and cell.source.strip() != ref.source.strip():
            notes.append(f"cell {grade_id!r}: read-only cell edited; restored from the source")
        return notes


def normalise(nb: NotebookNode, release: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """Restore nbgrader metadata from ``release``; return the notebook and the notes."""
    nb, resources = RestoreMetadata(release=release).preprocess(nb, {})
    return nb, resources["l2course"]["notes"]
