"""What the tests, the benchmarks and the build tools share: the toc, the assignments, a quiet
local web server and Debian's Chromium.

Imported by ``tests/`` (``pythonpath`` in pyproject.toml), ``bench/``, ``_ext/print_pdf.py``,
``_ext/select_chapters.py`` and ``_instructor/build_config.py``. Nothing here is typed per
chapter or per assignment: the toc and the folders say what exists.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the table of contents
EXERCISE = re.compile(r"exercises/([^/]+)/\1")


def load_toc(path: Path = REPO / "_toc.yml") -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def toc_entries(toc: dict) -> Iterator[dict]:
    """Every entry of a jb-book toc (parts, chapters, sections), in reading order."""

    def walk(entries: list[dict]) -> Iterator[dict]:
        for entry in entries:
            yield entry
            for key in ("parts", "chapters", "sections"):
                yield from walk(entry.get(key, []))

    yield from walk([{k: toc[k] for k in ("parts", "chapters") if k in toc}])


def toc_files(toc: dict) -> Iterator[str]:
    """Every ``file`` of a jb-book toc, root first, in reading order (without suffix)."""
    yield str(toc["root"])
    yield from (str(e["file"]) for e in toc_entries(toc) if "file" in e)


def toc_exercises(toc: dict) -> list[str]:
    """Ids of the exercises the toc lists (``exercises/<id>/<id>``), in reading order."""
    found = (EXERCISE.fullmatch(str(e.get("file", ""))) for e in toc_entries(toc))
    return [m.group(1) for m in found if m]


def assignments(root: Path = REPO) -> list[str]:
    """Every assignment on disk: ``<source folder>/<id>/<id>.ipynb`` (nbgrader_config.py)."""
    from l2course.course import Course

    return Course.load(root).assignments()


# ---------------------------------------------------------------- a quiet server on 127.0.0.1
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port, threaded); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.handle_error = lambda request, client_address: None  # a closed tab's broken pipe
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- Debian's Chromium
# Playwright's own browser download cannot reach the internet here; Debian's package can.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = "Debian's chromium is not installed (apt-get install chromium)"


def launch(pw: Any, **options: Any) -> Any:
    """A headless Debian Chromium browser from a Playwright instance."""
    return pw.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, **options
    )


def launch_persistent(pw: Any, profile: Path, **options: Any) -> Any:
    """A headless Debian Chromium context with its own fresh profile folder ``profile``."""
    return pw.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, **options
    )
