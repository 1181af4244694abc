"""The course on disk: its ``nbgrader_config.py``, folders, gradebook and assignments.

``nbgrader_config.py`` is the single source of truth for the folder names, the course id and the
gradebook URL; everything the grader needs from it is read here, once per run. Private courses
(a grading worker's, a scratch release) are copies of the same config with another root and
gradebook (:meth:`Course.private_config`), so they lay out their folders exactly as the course.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .models import Limits

CONFIG_FILE = "nbgrader_config.py"
#: nbgrader's own defaults for the folders (``CourseDirectory``).
FOLDER_DEFAULTS = {"source": "source", "release": "release", "submitted": "submitted",
                   "autograded": "autograded", "feedback": "feedback"}
#: Not copied into a private course (editor and interpreter leftovers).
COPY_IGNORE = (".ipynb_checkpoints", "__pycache__")


def load_config(root: Path) -> Config:
    """The course's ``nbgrader_config.py`` (or an empty config)."""
    if not (root / CONFIG_FILE).exists():
        return Config()
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


@dataclass(frozen=True)
class Course:
    """A course root and its nbgrader configuration (read once)."""

    root: Path
    config: Config

    @classmethod
    def load(cls, root: Path) -> Course:
        root = Path(root).resolve()
        return cls(root, load_config(root))

    @classmethod
    def find(cls, start: Path) -> Course:
        """The nearest folder at or above ``start`` with ``nbgrader_config.py`` (else the cwd)."""
        for folder in [start, *start.parents]:
            if (folder / CONFIG_FILE).exists():
                return cls.load(folder)
        return cls.load(Path.cwd())

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        # sent to spawned workers: re-read the config there rather than pickle a traitlets Config
        return (Course.load, (self.root,))

    # -- folders ----------------------------------------------------------------------------
    def folder_name(self, kind: str) -> str:
        """``CourseDirectory.<kind>_directory`` (``source``, ``release``, ``autograded`` …)."""
        return self.config.CourseDirectory.get(f"{kind}_directory", FOLDER_DEFAULTS[kind])

    def folder(self, kind: str) -> Path:
        return self.root / self.folder_name(kind)

    def source(self, assignment: str) -> Path:
        """``<source>/<assignment>``; FileNotFoundError if it does not exist."""
        path = self.folder("source") / assignment
        if not path.is_dir():
            raise FileNotFoundError(f"no source for {assignment!r}: {path} does not exist")
        return path

    def assignments(self) -> list[str]:
        """Every assignment on disk: a source folder holding a notebook named after it."""
        source = self.folder("source")
        if not source.is_dir():
            return []
        return sorted(p.name for p in source.iterdir()
                      if p.is_dir() and (p / f"{p.name}.ipynb").is_file())

    # -- gradebook and limits ---------------------------------------------------------------
    @property
    def course_id(self) -> str:
        return self.config.CourseDirectory.get("course_id", "") or "default_course"

    @property
    def db_url(self) -> str:
        """The gradebook URL (a relative SQLite path resolved against the root)."""
        url = self.config.CourseDirectory.get("db_url", "") or "sqlite:///gradebook.db"
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith("/"):
            url = prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    @property
    def cell_timeout(self) -> int:
        """``Execute.timeout`` of the course, else the grader's default."""
        return int(self.config.Execute.get("timeout", Limits.cell_timeout))

    def private_config(self, root: Path, db_url: str) -> Config:
        """This course's config for a private copy at ``root`` with its own gradebook."""
        config = copy.deepcopy(self.config)
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.db_url = db_url
        return config
