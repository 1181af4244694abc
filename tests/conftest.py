"""Shared fixtures for the course's test suite.

The learner edition of the book is built once per test run (across pytest-xdist workers, guarded
by a file lock) into ``_build/html``; tests that need it take the ``built_book`` fixture.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from booktools import assignments, load_toc, toc_files
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JB_FLAGS = ["-W", "-n", "--keep-going"]


def tool_env() -> dict[str, str]:
    """Environment for subprocesses: the venv's ``bin`` first on PATH (nbgrader needs alembic)."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Only chapter notebooks are nbval tests; notebooks under tests/ are fixtures."""
    if collection_path.suffix == ".ipynb":
        try:
            collection_path.relative_to(REPO / "chapters")
        except ValueError:
            return True
    return None


def toc_documents() -> list[str]:
    """Every document named in ``_toc.yml``, in reading order (without suffix), root first."""
    return list(toc_files(load_toc(REPO / "_toc.yml")))


@dataclass(frozen=True)
class BookBuild:
    """Outcome of one ``jupyter-book build`` run."""

    returncode: int
    log: str
    seconds: float
    html_dir: Path

    def problems(self) -> list[str]:
        """Lines of the log that report a warning or an error (the kernel's TCP notice aside)."""
        return [
            line
            for line in self.log.splitlines()
            if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line) and "IPKernelApp" not in line
        ]


def build_book(
    source: Path,
    builder: str = "html",
    extra: list[str] | None = None,
    timeout: float = 1200,
) -> BookBuild:
    """Build the book at ``source`` with the course's strict flags and return the outcome."""
    cmd = [str(BIN / "jupyter-book"), "build", str(source), *JB_FLAGS, "--builder", builder]
    cmd += extra or []
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=tool_env(), timeout=timeout, cwd=source
    )
    return BookBuild(
        returncode=proc.returncode,
        log=proc.stdout + proc.stderr,
        seconds=time.perf_counter() - start,
        html_dir=source / "_build" / "html",
    )


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    """An id shared by all xdist workers of one test run (a fresh one without xdist)."""
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["testrunuid"])
    if not hasattr(request.config, "_l2course_run_id"):
        import uuid

        request.config._l2course_run_id = uuid.uuid4().hex  # type: ignore[attr-defined]
    return str(request.config._l2course_run_id)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def built_book(run_id: str) -> BookBuild:
    """The learner edition, built once per test run into ``_build/html``."""
    build_dir = REPO / "_build"
    build_dir.mkdir(exist_ok=True)
    record = build_dir / "test-build.json"
    with FileLock(str(build_dir / "test-build.lock")):
        if record.exists():
            data = json.loads(record.read_text())
            if data["run"] == run_id:
                return BookBuild(
                    data["returncode"], data["log"], data["seconds"], Path(data["html_dir"])
                )
        result = build_book(REPO)
        (build_dir / "test-build.log").write_text(result.log)
        record.write_text(
            json.dumps(
                {
                    "run": run_id,
                    "returncode": result.returncode,
                    "log": result.log,
                    "seconds": result.seconds,
                    "html_dir": str(result.html_dir),
                }
            )
        )
        return result


@pytest.fixture(scope="session")
def instructor_book(run_id: str, built_book: BookBuild) -> BookBuild:
    """The instructor edition, built once per test run by ``make book-instructor``.

    After the learner edition, whose executed chapters it reads from the shared jupyter-cache
    (``_instructor/build_config.py``): only the solutions execute here.
    """
    build_dir = REPO / "_build"
    build_dir.mkdir(exist_ok=True)
    record = build_dir / "test-instructor.json"
    html_dir = build_dir / "instructor"
    with FileLock(str(build_dir / "test-instructor.lock")):
        if record.exists():
            data = json.loads(record.read_text())
            if data["run"] == run_id:
                return BookBuild(data["returncode"], data["log"], data["seconds"], html_dir)
        start = time.perf_counter()
        proc = subprocess.run(
            ["make", "--no-print-directory", "book-instructor"],
            capture_output=True, text=True, env=tool_env(), cwd=REPO, timeout=1200,
        )
        result = BookBuild(
            proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start, html_dir
        )
        record.write_text(
            json.dumps(
                {"run": run_id, "returncode": result.returncode, "log": result.log,
                 "seconds": result.seconds}
            )
        )
        return result


# -- assignments and chapters, derived from the folders (never typed by hand) ------------------

#: Every assignment: ``solutions/<id>/<id>.ipynb`` (the folder is named in nbgrader_config.py).
ASSIGNMENTS = assignments(REPO)


def exercise_of(chapter: Path) -> str:
    """The assignment of chapter ``NN_*.ipynb``: by convention the one named ``exNN-*``."""
    number = chapter.name[:2]
    found = [a for a in ASSIGNMENTS if a.startswith(f"ex{number}-")]
    assert len(found) == 1, (
        f"chapter {chapter.name} needs exactly one assignment named ex{number}-* "
        f"in solutions/, found {found}")
    return found[0]


@pytest.fixture(scope="session")
def japanese_book(built_book: BookBuild, run_id: str) -> BookBuild:
    """The Japanese edition, built once per test run into ``_build/html/ja`` as ``make book`` does.

    It reads the English build's jupyter-cache (``_ext/edition_config.py``): nothing executes.
    """
    build_dir = REPO / "_build"
    record = build_dir / "test-build-ja.json"
    html_dir = build_dir / "html" / "ja"
    with FileLock(str(build_dir / "test-build-ja.lock")):
        if record.exists():
            data = json.loads(record.read_text())
            if data["run"] == run_id:
                return BookBuild(data["returncode"], data["log"], data["seconds"], html_dir)
        out = build_dir / ".ja"
        subprocess.run([str(BIN / "python"), str(REPO / "_ext" / "edition_config.py"), "ja",
                        str(out)], check=True, cwd=REPO)
        result = build_book(REPO, extra=["--config", str(out / "_config.yml"),
                                         "--path-output", str(out)])
        subprocess.run(["rm", "-rf", str(html_dir)], check=True)
        if result.returncode == 0:
            subprocess.run(["cp", "-al", str(out / "_build" / "html"), str(html_dir)], check=True)
        result = BookBuild(result.returncode, result.log, result.seconds, html_dir)
        (build_dir / "test-build-ja.log").write_text(result.log)
        record.write_text(json.dumps({"run": run_id, "returncode": result.returncode,
                                      "log": result.log, "seconds": result.seconds}))
        return result
