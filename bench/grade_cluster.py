"""Benchmark: ``l2course grade --scheduler`` on local Dask clusters of 1 and 2 workers vs ``--jobs 2``.

    .venv/bin/python bench/grade_cluster.py [--assignment ex01-penalty] [--n 30] [--postgres]

Same scratch course and submissions as ``bench/grade.py`` (a third correct, wrong, blank). Each
configuration grades them once, in a fresh copy of the course:

1. ``l2course grade A submitted --jobs 2`` (local worker pool, no cluster);
2. a Dask cluster on 127.0.0.1 (``dask scheduler`` + ONE ``dask worker --nthreads 1``),
   ``l2course grade A submitted --scheduler tcp://127.0.0.1:PORT``;
3. the same with TWO single-threaded workers.

A fresh cluster per configuration (its start-up is not timed: a cluster is a long-lived service;
each worker's first submission, which sets up its private course, is). ``--postgres`` writes
the gradebook into a throw-away PostgreSQL server instead of SQLite. Prints wall seconds per
submission, the 2-worker / 1-worker throughput ratio, 2 workers vs ``--jobs 2``, and the CPU
seconds the ``l2course grade`` process itself spent per submission on the cluster runs — the
central cost (staging, shipping, recording in the gradebook) that bounds how many machines one
grading run can feed. Each run has ~10-20 s of fixed cost (start-up, the workers' probe and
private courses): on a quiet machine use ``--n 60`` or more to see the steady state.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "bench"), str(REPO / "tests")]

from grade import env, fresh, make_course, make_submissions  # noqa: E402
from services import dask_cluster, postgres_server  # noqa: E402


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of ``cmd``'s own process tree (waited-for children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="ex01-penalty")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--postgres", action="store_true",
                        help="gradebook in a throw-away PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="l2course-bench-") as tmp, \
            (postgres_server() if args.postgres else nullcontext()) as pg:
        base, a = make_course(Path(tmp), args.assignment)
        make_submissions(base, a, args.n)
        n = args.n
        print(f"assignment {a}: {n} submissions (correct / wrong / blank), {os.cpu_count()} "
              f"cores, gradebook: {'PostgreSQL' if pg else 'SQLite'}")
        grade = [sys.executable, "-m", "l2course.cli", "grade", a, "submitted"]
        runs: dict[str, tuple[float, float]] = {}

        def db(name: str) -> list[str]:
            return ["--db-url", pg.create(name.replace("-", "_"))] if pg else []

        runs["local"] = timed([*grade, "--jobs", "2", *db("local")], fresh(base, "local"))
        for workers in (1, 2):
            with dask_cluster(workers) as cluster:
                name = f"cluster-{workers}"
                runs[name] = timed([*grade, "--scheduler", cluster.address, *db(name)],
                                   fresh(base, name))

    labels = {"local": "l2course grade --jobs 2 (local pool)",
              "cluster-1": "--scheduler, 1 worker (--nthreads 1)",
              "cluster-2": "--scheduler, 2 workers (--nthreads 1)"}
    for name, (wall, cpu) in runs.items():
        print(f"{labels[name]:<40} {wall:7.1f} s  {wall / n:6.2f} s/submission"
              + (f"  parent CPU {cpu / n * 1000:5.0f} ms/submission"
                 if name != "local" else ""))
    one, two, local = runs["cluster-1"][0], runs["cluster-2"][0], runs["local"][0]
    central = runs["cluster-2"][1] / n
    print(f"throughput 2 workers / 1 worker: {one / two:.2f}x")
    print(f"throughput 2 workers / local --jobs 2: {local / two:.2f}x")
    per_worker = n / one  # submissions per second of one single-threaded worker
    print(f"projection: N machines of c cores grade ~{per_worker * 3600:.0f} x N x c "
          f"submissions/hour, until the parent's CPU per submission ({central * 1000:.0f} ms, "
          f"start-up included) saturates its core: at least ~{3600 / central:.0f}/hour, "
          f"~{1 / (central * per_worker):.0f} workers; beyond, run several gradings at once "
          "(e.g. one per assignment) into the same PostgreSQL gradebook")


if __name__ == "__main__":
    main()
