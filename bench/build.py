"""Cold and warm build time of the learner edition.

Copies the repository's tracked files to a temporary folder, then runs the same command as
``make book`` twice there: once with no ``_build`` (cold: every notebook executes) and once more
with nothing changed (warm: Sphinx's environment and the jupyter-cache are reused).

Usage:  .venv/bin/python bench/build.py [--repeats N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).parent / "jupyter-book"
CMD = ["build", ".", "-W", "-n", "--keep-going", "--builder", "html"]


def copy_tracked(dest: Path) -> None:
    """Copy every git-tracked file (working-tree contents) of the repository into ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, files):
        rel = Path(raw.decode())
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def timed_build(book: Path) -> float:
    """Run one build in ``book``; return wall seconds (exit on failure)."""
    env = {"PATH": f"{JB.parent}:/usr/bin:/bin"}
    start = time.perf_counter()
    proc = subprocess.run([str(JB), *CMD], cwd=book, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm builds to time (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="l2course-bench-build-") as tmp:
        book = Path(tmp)
        copy_tracked(book)
        cold = timed_build(book)
        warm = [timed_build(book) for _ in range(args.repeats)]
    print(f"{'build':<28}{'seconds':>10}")
    print(f"{'cold (no _build, no cache)':<28}{cold:>10.1f}")
    print(f"{'warm (nothing changed)':<28}{statistics.median(warm):>10.1f}   median of {args.repeats}: "
          + ", ".join(f"{w:.1f}" for w in warm))
    print(f"{'cold / warm':<28}{cold / statistics.median(warm):>10.1f}x")


if __name__ == "__main__":
    main()
