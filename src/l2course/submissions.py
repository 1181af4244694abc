"""Find, unpack and normalise submissions before nbgrader sees them.

Everything here is trusted code that only reads JSON: no student code runs. A submission folder
(or zip) is laid out as nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``.
Normalising a notebook against the release version means:

* unreadable input (empty file, invalid JSON, not a notebook) is rejected with the reason;
* a single notebook under another name is graded as the expected one (noted);
* every cell's ``nbgrader`` metadata is replaced by the release's for the same ``grade_id``
  (so ``grade: false``, changed points or a re-typed cell cannot fool or crash nbgrader);
  unknown or duplicated ``grade_id``\\ s lose their nbgrader metadata;
* edited, re-typed or deleted test cells are noted (nbgrader's ``OverwriteCells`` restores them
  from the source, ``add_missing_cells`` puts deleted ones back).

The notes are shown to the student as a markdown cell at the top of the graded notebook.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 1024**2
MAX_ZIP_BYTES = 500 * 1024**2
MAX_EXTRA_BYTES = 20 * 1024**2
#: nbgrader metadata that decides how a cell is graded (compared with the release).
TRUSTED_KEYS = ("grade", "solution", "locked", "task", "points", "grade_id")


class SubmissionError(ValueError):
    """The submissions argument cannot be used at all."""


@dataclass
class Submission:
    """One student's submission of one assignment, ready for (or excluded from) grading."""

    student: str
    assignment: str
    directory: Path | None
    notebooks: dict[str, NotebookNode] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rejected: str | None = None

    def write(self, dest: Path) -> None:
        """Write the normalised notebooks and the student's other small files to ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        if self.directory is not None:
            total = 0
            for path in sorted(self.directory.rglob("*")):
                if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb":
                    continue
                total += path.stat().st_size
                if total > MAX_EXTRA_BYTES:
                    break
                target = dest / path.relative_to(self.directory)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        for name, nb in self.notebooks.items():
            nbformat.write(nb, dest / f"{name}.ipynb")


def unpack(submissions: Path, workdir: Path) -> Path:
    """Return the ``submitted`` folder: ``submissions`` itself, or a zip safely extracted."""
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise SubmissionError(f"{submissions} is neither a folder nor a zip file")
        target = workdir / "unzipped"
        target.mkdir(parents=True)
        total = 0
        with zipfile.ZipFile(submissions) as archive:
            for info in archive.infolist():
                name = Path(info.filename)
                if name.is_absolute() or ".." in name.parts:
                    raise SubmissionError(f"unsafe path in zip: {info.filename}")
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    continue  # symlink
                total += info.file_size
                if total > MAX_ZIP_BYTES:
                    raise SubmissionError("zip expands to more than 500 MB")
                if info.is_dir():
                    continue
                out = target / name
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        submissions = target
    if not submissions.is_dir():
        raise SubmissionError(f"{submissions} does not exist")
    return submissions


def find_submitted_root(folder: Path, assignment: str) -> Path:
    """The directory whose children are student folders containing ``assignment``."""
    candidates = [folder, folder / "submitted"]
    candidates += [p / "submitted" for p in folder.iterdir() if p.is_dir()]
    candidates += [p for p in folder.iterdir() if p.is_dir()]
    for candidate in candidates:
        if candidate.is_dir() and any(
            (s / assignment).is_dir() for s in candidate.iterdir() if s.is_dir()
        ):
            return candidate
    raise SubmissionError(
        f"no submissions of {assignment!r} in {folder} "
        f"(expected submitted/<student>/{assignment}/...)"
    )


def read_notebook(path: Path) -> tuple[NotebookNode | None, str | None]:
    """``(notebook, None)`` or ``(None, reason)`` for an unusable file."""
    size = path.stat().st_size
    if size == 0:
        return None, f"{path.name} is an empty file"
    if size > MAX_NOTEBOOK_BYTES:
        return None, f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 1024**2} MB"
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, f"{path.name} is not a Jupyter notebook"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing cell ids: nbformat adds them
            nb = nbformat.reads(json.dumps(data), as_version=4)
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds
        return None, f"{path.name} is not a valid notebook ({str(exc).splitlines()[0]})"
    return nb, None


def _nbgrader_meta(cell: NotebookNode) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def normalise(nb: NotebookNode, release: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """Restore nbgrader metadata from the release; return the notebook and notes."""
    notes: list[str] = []
    reference = {}
    for cell in release.cells:
        meta = _nbgrader_meta(cell)
        if meta and meta.get("grade_id"):
            reference[meta["grade_id"]] = cell
    seen: set[str] = set()
    for cell in nb.cells:
        meta = _nbgrader_meta(cell)
        if meta is None:
            if "nbgrader" in cell.get("metadata", {}):
                del cell.metadata["nbgrader"]
                notes.append("malformed nbgrader metadata removed")
            continue
        grade_id = meta.get("grade_id")
        if grade_id not in reference or grade_id in seen:
            del cell.metadata["nbgrader"]
            what = "duplicate" if grade_id in seen else "unknown"
            notes.append(f"cell {grade_id!r}: {what} grade_id, nbgrader metadata removed")
            continue
        seen.add(grade_id)
        ref = reference[grade_id]
        ref_meta = _nbgrader_meta(ref) or {}
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
    for grade_id, ref in reference.items():
        if grade_id not in seen and (_nbgrader_meta(ref) or {}).get("locked"):
            notes.append(f"cell {grade_id!r}: deleted; restored from the source")
    # nbgrader also restores the kernel; keep the release's so the kernel name is trusted
    nb.metadata["kernelspec"] = copy.deepcopy(release.metadata.get("kernelspec", {}))
    if notes:
        text = "**Grader notes** (added by `l2course grade`):\n\n" + "\n".join(
            f"- {note}" for note in notes)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    return nb, notes


def collect(
    submitted_root: Path, assignment: str, releases: dict[str, NotebookNode]
) -> list[Submission]:
    """Every student's submission of ``assignment``, read and normalised."""
    result: list[Submission] = []
    for student_dir in sorted(p for p in submitted_root.iterdir() if p.is_dir()):
        folder = student_dir / assignment
        if not folder.is_dir() or folder.is_symlink():
            continue
        student = student_dir.name
        if not STUDENT_ID.match(student):
            safe = re.sub(r"[^A-Za-z0-9_.@+-]", "_", student)[:64] or "invalid"
            sub = Submission(safe, assignment, None, rejected="invalid student folder name")
            result.append(sub)
            continue
        sub = Submission(student, assignment, folder)
        present = {p.stem: p for p in folder.glob("*.ipynb") if p.is_file()
                   and not p.is_symlink()}
        unmatched = [p for stem, p in present.items() if stem not in releases]
        for name, release in releases.items():
            path = present.get(name)
            if path is None and len(releases) == 1 and len(unmatched) == 1:
                path = unmatched[0]
                sub.notes.append(f"notebook submitted as {path.name}; graded as {name}.ipynb")
            if path is None:
                sub.rejected = f"{name}.ipynb is missing"
                continue
            nb, problem = read_notebook(path)
            if nb is None:
                sub.rejected = problem
                continue
            nb, notes = normalise(nb, release)
            sub.notes.extend(notes)
            sub.notebooks[name] = nb
        if sub.notes and sub.notebooks:
            # the renaming note is not part of normalise()'s cell; put every note in the cell
            for nb in sub.notebooks.values():
                first = nb.cells[0] if nb.cells else None
                text = "**Grader notes** (added by `l2course grade`):\n\n" + "\n".join(
                    f"- {note}" for note in sub.notes)
                if first is not None and first.source.startswith("**Grader notes**"):
                    first.source = text
                else:
                    nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
        if sub.rejected:
            sub.notebooks = {}
        result.append(sub)
    return result
