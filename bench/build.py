"""Cold and warm build time of the learner edition, English and Japanese.

Copies the repository's tracked files to a temporary folder, then runs the same commands as
``make book`` there: once with no ``_build`` (cold: every notebook executes, for the English
edition only; the Japanese one reads its cache) and again with nothing changed (warm: Sphinx's
environments and the jupyter-cache are reused). Each edition is timed separately; the target
for the warm rebuild of both is under 20 s.

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
#: The Japanese edition, as ``make book`` builds it (config from _ext/edition_config.py).
JA = [*CMD, "--config", "_build/.ja/_config.yml", "--path-output", "_build/.ja"]


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


def timed_build(book: Path, cmd: list[str] = CMD) -> float:
    """Run one build in ``book``; return wall seconds (exit on failure)."""
    env = {"PATH": f"{JB.parent}:/usr/bin:/bin"}
    start = time.perf_counter()
    proc = subprocess.run([str(JB), *cmd], cwd=book, capture_output=True, text=True, env=env)
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
        subprocess.run([sys.executable, "_ext/edition_config.py", "ja", "_build/.ja"], cwd=book,
                       check=True)
        cold = (timed_build(book), timed_build(book, JA))
        warm = [(timed_build(book), timed_build(book, JA)) for _ in range(args.repeats)]
    both = [en + ja for en, ja in warm]
    print(f"{'build':<34}{'English':>9}{'Japanese':>10}{'both':>8}")
    print(f"{'cold (no _build, no cache)':<34}{cold[0]:>9.1f}{cold[1]:>10.1f}{sum(cold):>8.1f}")
    median = warm[both.index(statistics.median_low(both))]
    print(f"{'warm (nothing changed), median':<34}{median[0]:>9.1f}{median[1]:>10.1f}"
          f"{sum(median):>8.1f}   runs: " + ", ".join(f"{b:.1f}" for b in both))
    print(f"{'target for warm, both':<34}{'':>19}{20.0:>8.1f}   "
          + ("met" if sum(median) < 20 else "NOT met"))

if __name__ == "__main__":
    main()
