"""Benchmark: plain sequential nbgrader vs ``l2course grade`` on the same 40 submissions.

    .venv/bin/python bench/grade.py [--assignment ex01-penalty] [--n 40] [--jobs N]

Builds a scratch course from the real source (``solutions/<assignment>``; the grader's fixture
course when the source does not exist yet), releases it with nbgrader, and generates N
submissions: a third correct (the source itself), a third wrong (every ``raise
NotImplementedError()`` replaced by ``return 0.0``), a third blank (the release). Then, side by
side in one run, each in a fresh copy of the course and gradebook:

1. plain nbgrader: ``nbgrader autograde A --force`` then ``nbgrader generate_feedback A --force``
   (sequential, unsandboxed, one CLI call each for the whole class);
2. ``l2course grade A submitted`` (sandboxed, ``--jobs`` workers, feedback and grades.csv);
3. ``l2course grade A submitted --no-sandbox`` (same, without bubblewrap).

Runs the three side by side, interleaved, ``--repeat`` times (best time of each: the
machine may be shared). Prints seconds per submission, the throughput ratio, the sandbox overhead and the peak memory
(summed resident set of the whole process tree, sampled every 0.1 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def peak_rss(proc: subprocess.Popen, stop: threading.Event, out: list[int]) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        return
    peak = 0
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        peak = max(peak, total)
        time.sleep(0.1)
    out.append(peak)


def timed(cmds: list[list[str]], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS (bytes) and last output of running ``cmds`` in turn."""
    start = time.perf_counter()
    peak = 0
    last = ""
    for cmd in cmds:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        stop, box = threading.Event(), []
        thread = threading.Thread(target=peak_rss, args=(proc, stop, box))
        thread.start()
        output, _ = proc.communicate()
        stop.set()
        thread.join()
        peak = max(peak, *box, 0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{output[-3000:]}")
        last = output
    return time.perf_counter() - start, peak, last


def make_course(work: Path, assignment: str) -> tuple[Path, str]:
    course = work / "course"
    src = REPO / "solutions" / assignment
    if src.is_dir():
        (course / "solutions").mkdir(parents=True)
        shutil.copy(REPO / "nbgrader_config.py", course)
        shutil.copytree(src, course / "solutions" / assignment)
        return course, assignment
    print(f"(solutions/{assignment} not found: using the grader's fixture assignment)")
    shutil.copytree(REPO / "tests" / "grader" / "course", course)
    return course, "fixture"


def make_submissions(course: Path, a: str, n: int) -> None:
    subprocess.run([str(BIN / "nbgrader"), "generate_assignment", a, "--force"], cwd=course,
                   env=env(), check=True, capture_output=True)
    config = (course / "nbgrader_config.py").read_text()
    source_dir = "solutions" if '"solutions"' in config else "source"
    release_dir = "exercises" if '"exercises"' in config else "release"
    source = nbformat.read(course / source_dir / a / f"{a}.ipynb", as_version=4)
    release = nbformat.read(course / release_dir / a / f"{a}.ipynb", as_version=4)
    wrong = nbformat.from_dict(release)
    for cell in wrong.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace("raise NotImplementedError()", "return 0.0")
    kinds = {"correct": source, "wrong": wrong, "blank": release}
    for i in range(n):
        kind = list(kinds)[i % 3]
        folder = course / "submitted" / f"s{i:02d}-{kind}" / a
        folder.mkdir(parents=True)
        nbformat.write(kinds[kind], folder / f"{a}.ipynb")


def fresh(course: Path, name: str) -> Path:
    copy = course.parent / name
    # the gradebook as generate_assignment left it (assignment registered, no students)
    shutil.copytree(course, copy, ignore=shutil.ignore_patterns("autograded", "feedback"))
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="ex01-penalty")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2,
                        help="interleaved rounds; the best time of each is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="l2course-bench-") as tmp:
        base, a = make_course(Path(tmp), args.assignment)
        make_submissions(base, a, args.n)
        n = args.n
        print(f"assignment {a}: {n} submissions (correct / wrong / blank), "
              f"{os.cpu_count()} cores, --jobs {args.jobs}, best of {args.repeat} rounds")

        grade = [sys.executable, "-m", "l2course.cli", "grade", a, "submitted",
                 "--jobs", str(args.jobs)]
        configs = {
            "plain": [[str(BIN / "nbgrader"), "autograde", a, "--force"],
                      [str(BIN / "nbgrader"), "generate_feedback", a, "--force"]],
            "sandboxed": [grade],
            "unboxed": [[*grade, "--no-sandbox"]],
        }
        best: dict[str, tuple[float, int]] = {}
        table = ""
        # interleaved rounds, best of each: the machine may be shared
        for round_ in range(args.repeat):
            for name, cmds in configs.items():
                seconds, peak, output = timed(cmds, fresh(base, f"{name}-{round_}"))
                if name == "sandboxed":
                    table = output
                old = best.get(name, (float("inf"), 0))
                best[name] = (min(old[0], seconds), max(old[1], peak))
        t_plain, m_plain = best["plain"]
        t_box, m_box = best["sandboxed"]
        t_free, m_free = best["unboxed"]

    def row(label: str, seconds: float, peak: int) -> str:
        return (f"{label:<44} {seconds:7.1f} s  {seconds / n:6.2f} s/submission  "
                f"peak {peak / 1024**2:6.0f} MiB")

    print(row("plain nbgrader autograde + generate_feedback", t_plain, m_plain))
    print(row(f"l2course grade (sandboxed, --jobs {args.jobs})", t_box, m_box))
    print(row(f"l2course grade --no-sandbox (--jobs {args.jobs})", t_free, m_free))
    print(f"throughput vs plain nbgrader: {t_plain / t_box:.2f}x (sandboxed), "
          f"{t_plain / t_free:.2f}x (no sandbox)")
    print(f"sandbox overhead: {100 * (t_box - t_free) / t_free:+.1f}% of a submission's time")
    print("\nsummary table of the sandboxed run (first rows):")
    lines = [line for line in table.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("student"))
    print("\n".join(lines[start:start + 8]))


if __name__ == "__main__":
    main()
