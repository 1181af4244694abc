"""Find, unpack and normalise submissions before nbgrader sees them.

Everything here is trusted code that only reads JSON: no student code runs. A submission folder
(or zip) is laid out as nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb``.
Normalising a notebook against the release version means:

* unreadable input (empty file, invalid JSON, not a notebook) is rejected with the reason;
* a single notebook under another name is graded as the expected one (noted);
* every cell's ``nbgrader`` metadata is restored from the release, and tampering is noted
  (:class:`l2course.sanitise.RestoreMetadata`).

The notes are shown to the student as a markdown cell at the top of the graded notebook.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .sanitise import RestoreMetadata, notes_cell

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 1024**2
MAX_ZIP_BYTES = 500 * 1024**2
MAX_EXTRA_BYTES = 20 * 1024**2


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


def _read_one(sub: Submission, name: str, path: Path | None, release: NotebookNode) -> None:
    """Read and normalise one notebook of ``sub`` (or reject the submission)."""
    if path is None:
        sub.rejected = f"{name}.ipynb is missing"
        return
    nb, problem = read_notebook(path)
    if nb is None:
        sub.rejected = problem
        return
    nb, resources = RestoreMetadata(release=release).preprocess(nb, {})
    sub.notes.extend(resources["l2course"]["notes"])
    sub.notebooks[name] = nb


def read_submission(folder: Path, student: str, assignment: str,
                    releases: dict[str, NotebookNode]) -> Submission:
    """One student's folder, read and normalised against the release notebooks."""
    sub = Submission(student, assignment, folder)
    present = {p.stem: p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()}
    unmatched = [p for stem, p in present.items() if stem not in releases]
    for name, release in releases.items():
        path = present.get(name)
        if path is None and len(releases) == 1 and len(unmatched) == 1:
            path = unmatched[0]
            sub.notes.append(f"notebook submitted as {path.name}; graded as {name}.ipynb")
        _read_one(sub, name, path, release)
    if sub.rejected:
        sub.notebooks = {}
    elif sub.notes:
        for nb in sub.notebooks.values():
            nb.cells.insert(0, notes_cell(sub.notes))
    return sub


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
        if STUDENT_ID.match(student):
            result.append(read_submission(folder, student, assignment, releases))
        else:
            safe = re.sub(r"[^A-Za-z0-9_.@+-]", "_", student)[:64] or "invalid"
            result.append(Submission(safe, assignment, None,
                                     rejected="invalid student folder name"))
    return result
