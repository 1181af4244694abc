"""``l2course``: sandboxed, parallel nbgrader autograding and the learner's self-check.

  l2course grade ASSIGNMENT SUBMISSIONS   grade submitted/<student>/ASSIGNMENT/ (folder or zip)
  l2course check NOTEBOOK                 self-check one completed exercise notebook
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from .autograde import Pool, Result, Settings, Worker, load_course_config
from .gradebook import (course_db_url, course_id, record, register_assignment, scores,
                        write_csv)
from .report import (Progress, check_report, reason_for, rejected_feedback, status_for,
                     summary_table)
from .sandbox import Limits, SandboxUnavailable, check_sandbox
from .submissions import SubmissionError, collect, find_submitted_root, unpack


def _add_limits(parser: argparse.ArgumentParser) -> None:
    d = Limits()
    parser.add_argument("--cell-timeout", type=int, default=None, metavar="S",
                        help="seconds per cell (default: Execute.timeout from "
                             f"nbgrader_config.py, else {d.cell_timeout})")
    parser.add_argument("--notebook-timeout", type=int, default=d.notebook_timeout, metavar="S",
                        help=f"seconds per notebook (default {d.notebook_timeout})")
    parser.add_argument("--memory", default="4G", help="address-space limit (default 4G)")
    parser.add_argument("--processes", type=int, default=d.processes,
                        help=f"process limit inside the sandbox (default {d.processes})")
    parser.add_argument("--output-limit", default="1M",
                        help="bytes of output per cell (default 1M)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code with your own permissions (unsafe)")
    parser.add_argument("--no-guard", action="store_true",
                        help="do not check numpy/builtins for monkey-patching")
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="course root with nbgrader_config.py (default: current directory)")


def _limits(args: argparse.Namespace, course_root: Path) -> Limits:
    from .autograde import load_course_config

    timeout = args.cell_timeout
    if timeout is None:
        timeout = load_course_config(course_root).Execute.get("timeout", Limits.cell_timeout)
    return Limits(
        cell_timeout=int(timeout),
        notebook_timeout=args.notebook_timeout,
        memory=Limits.parse_size(args.memory),
        processes=args.processes,
        output=Limits.parse_size(args.output_limit),
    )


def _require_sandbox(args: argparse.Namespace) -> bool:
    if args.no_sandbox:
        print("warning: --no-sandbox: student code runs with your permissions", file=sys.stderr)
        return False
    check_sandbox()
    return True


def _finish(result: Result, notes: list[str]) -> Result:
    result.reason = reason_for(result, notes)
    result.status = status_for(result)
    return result


def grade(args: argparse.Namespace) -> int:
    course_root = (args.course_dir or Path.cwd()).resolve()
    sandbox = _require_sandbox(args)
    limits = _limits(args, course_root)
    db_url = args.db_url or course_db_url(course_root)
    course = course_id(course_root)
    a = args.assignment
    out_csv = args.csv or course_root / "grades.csv"
    with tempfile.TemporaryDirectory(prefix="l2course-grade-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        settings = Settings(str(course_root), a, limits, sandbox=sandbox, guard=not args.no_guard)
        pool = Pool(settings, args.jobs or os.cpu_count() or 1, tmp)
        src = course_root / load_course_config(course_root).CourseDirectory.get(
            "source_directory", "source") / a
        if not src.is_dir():
            raise FileNotFoundError(f"no source for {a!r}: {src} does not exist")
        pool.start()  # workers set up their private courses meanwhile
        try:
            releases = register_assignment(course_root, a, db_url)
            root = find_submitted_root(unpack(Path(args.submissions).resolve(), tmp), a)
            subs = collect(root, a, releases)
            if not subs:
                print(f"no submissions of {a} found in {args.submissions}", file=sys.stderr)
                return 1
            progress = Progress(len(subs))
            results: list[Result] = []
            notes = {s.student: s.notes for s in subs}

            def done(result: Result) -> None:
                _finish(result, notes.get(result.student, []))
                record(db_url, course, a, result)
                result.score, result.max_score = scores(db_url, course, a, result.student)
                for kind, origin in (("autograded", result.autograded),
                                     ("feedback", result.feedback)):
                    dest = course_root / kind / result.student / a
                    shutil.rmtree(dest, ignore_errors=True)
                    if origin and Path(origin).is_dir():
                        shutil.copytree(origin, dest)
                if result.status in ("invalid", "error") and not result.feedback:
                    for name in releases:
                        rejected_feedback(course_root / "feedback" / result.student / a /
                                          f"{name}.html", result.student, a, result.reason)
                results.append(result)
                progress.update(result)

            jobs = []
            for sub in subs:
                if sub.rejected:
                    done(Result(student=sub.student, status="invalid", reason=sub.rejected))
                    continue
                staged = tmp / "staged" / sub.student / a
                sub.write(staged)
                jobs.append((sub.student, str(staged)))
            pool.run(jobs, done)
        finally:
            pool.close()
    write_csv(out_csv, db_url, course, a, results)
    print()
    print(summary_table(results))
    print(f"\n{len(results)} submissions; gradebook: {db_url}; grades: {out_csv}; "
          f"feedback: {course_root / 'feedback'}")
    return 1 if any(r.status == "error" for r in results) else 0


def _find_course(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / "nbgrader_config.py").exists():
            return folder
    return Path.cwd()


def check(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        print(f"{args.notebook}: no such file", file=sys.stderr)
        return 2
    course_root = (args.course_dir or _find_course(notebook.parent)).resolve()
    sandbox = _require_sandbox(args)
    limits = _limits(args, course_root)
    a = args.assignment or notebook.stem
    with tempfile.TemporaryDirectory(prefix="l2course-check-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        db_url = f"sqlite:///{tmp / 'check.db'}"
        releases = register_assignment(course_root, a, db_url)
        folder = tmp / "submitted" / "learner" / a
        folder.mkdir(parents=True)
        shutil.copyfile(notebook, folder / (f"{a}.ipynb" if len(releases) == 1
                                            else notebook.name))
        (sub,) = collect(tmp / "submitted", a, releases)
        if sub.rejected:
            print(f"cannot grade: {sub.rejected}")
            return 1
        for note in sub.notes:
            print(f"note: {note}")
        staged = tmp / "staged"
        sub.write(staged)
        settings = Settings(str(course_root), a, limits, sandbox=sandbox, guard=not args.no_guard)
        worker = Worker(settings, tmp)
        try:
            result = _finish(worker.grade("learner", str(staged)), [])
        finally:
            worker.close()
    check_report(result)
    full = result.max_score > 0 and result.score >= result.max_score and result.status == "graded"
    print("full marks" if full else "not full marks yet")
    return 0 if full else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l2course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde every submission of an assignment")
    g.add_argument("assignment", help="assignment id, e.g. ex01-penalty")
    g.add_argument("submissions", help="folder laid out as submitted/<student>/<assignment>/, "
                                       "or a zip of one")
    g.add_argument("--jobs", "-j", type=int, default=None,
                   help="parallel workers (default: number of cores)")
    g.add_argument("--db-url", default=None,
                   help="SQLAlchemy URL of the gradebook (default: db_url in nbgrader_config.py)")
    g.add_argument("--csv", type=Path, default=None, help="where to write grades.csv")
    _add_limits(g)
    g.set_defaults(func=grade)
    c = sub.add_parser("check", help="self-check one completed exercise notebook")
    c.add_argument("notebook")
    c.add_argument("--assignment", default=None,
                   help="assignment id (default: the notebook's file name)")
    _add_limits(c)
    c.set_defaults(func=check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``l2course`` command line."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush warnings
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        return args.func(args)
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (SubmissionError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
