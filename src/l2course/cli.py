"""``l2course``: sandboxed, parallel nbgrader autograding and the learner's self-check.

  l2course grade ASSIGNMENT SUBMISSIONS   grade submitted/<student>/ASSIGNMENT/ (folder or zip)
  l2course check NOTEBOOK                 self-check one completed exercise notebook
  l2course serve                          the self-check server (upload page; serve_cli.py)
  l2course release | report | export      see l2course.instructor_cli
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from .cluster import ClusterUnavailable
from .course import Course
from .classdata import report_dir
from .database import GradebookUnavailable, shown
from .grading import check_notebook, grade_class, grades_path
from .instructor_cli import add_commands
from .models import Limits, Settings, parse_size
from .report import Progress, check_report, summary_table
from .selfcheck import find_course, identify_assignment, unknown_assignment
from .sandbox import SandboxUnavailable, check_sandbox
from .serve_cli import add_commands as add_server_commands
from .submissions import SubmissionError


def _add_limits(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`Limits` field; its default shown from ``Limits()``."""
    defaults = Limits()
    for name, flag, unit, text in Limits.options():
        default = defaults.default_text(name)
        if name == "cell_timeout":
            default = f"Execute.timeout from nbgrader_config.py, else {default}"
        parser.add_argument(flag, dest=name, default=None, metavar=unit.upper(),
                            type=parse_size if unit == "bytes" else int,
                            help=f"{text} (default: {default})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code with your own permissions (unsafe)")
    parser.add_argument("--no-guard", action="store_true",
                        help="do not check numpy/builtins for monkey-patching")
    parser.add_argument("--course-dir", type=Path, default=None,
                        help="course root with nbgrader_config.py (default: grade: the "
                             "current directory; check: the nearest one above the notebook, "
                             "else above the current directory)")


def _settings(args: argparse.Namespace, course: Course, jobs: int = 1) -> Settings:
    """The limits given on the command line, the rest from ``Limits()`` and the course."""
    given = {name: getattr(args, name) for name, *_ in Limits.options()
             if getattr(args, name) is not None}
    given.setdefault("cell_timeout", course.cell_timeout)
    if args.no_sandbox:
        print("warning: --no-sandbox: student code runs with your permissions", file=sys.stderr)
    elif not getattr(args, "scheduler", None):
        check_sandbox()  # with --scheduler, each worker checks its own host
    return Settings(Limits(**given), sandbox=not args.no_sandbox, guard=not args.no_guard,
                    jobs=jobs)


def grade(args: argparse.Namespace) -> int:
    course = Course.load(args.course_dir or Path.cwd())
    settings = _settings(args, course, args.jobs or os.cpu_count() or 1)
    results = grade_class(course, args.assignment, Path(args.submissions), settings,
                          db_url=args.db_url, csv=args.csv, watch=Progress(),
                          scheduler=args.scheduler)
    if not results:
        print(f"no submissions of {args.assignment} found in {args.submissions}",
              file=sys.stderr)
        return 1
    print()
    print(summary_table(results))
    print(f"\n{len(results)} submissions; gradebook: {shown(args.db_url or course.db_url)}; "
          f"grades: {args.csv or grades_path(course, args.assignment)}; "
          f"class report: {report_dir(course, args.assignment) / 'index.html'}; "
          f"feedback: {course.folder('feedback')}")
    return 1 if any(r.status == "error" for r in results) else 0


def check(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook).resolve()
    if not notebook.is_file():
        print(f"{args.notebook}: no such file", file=sys.stderr)
        return 2
    course = Course.load(args.course_dir) if args.course_dir else find_course(notebook)
    assignment = args.assignment or identify_assignment(course, notebook)
    if assignment is None:
        print(f"error: {unknown_assignment(course, notebook)}", file=sys.stderr)
        return 2
    settings = _settings(args, course)
    checked = check_notebook(course, notebook, assignment, settings)
    if checked.rejected:
        print(f"cannot grade: {checked.rejected}")
        return 1
    for note in checked.notes:
        print(f"note: {note}")
    assert checked.result is not None
    if args.feedback and checked.feedback_html:
        args.feedback.write_text(checked.feedback_html, encoding="utf-8")
        print(f"feedback page: {args.feedback}")
    check_report(checked.result)
    print("full marks" if checked.result.full_marks else "not full marks yet")
    return 0 if checked.result.full_marks else 1


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
    g.add_argument("--csv", type=Path, default=None,
                   help="where to write the grades file (default: reports/ASSIGNMENT/grades.csv)")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="grade on this Dask cluster's workers instead of locally (--jobs is "
                        "then ignored; see the README, 'Running a large class')")
    _add_limits(g)
    g.set_defaults(func=grade)
    c = sub.add_parser("check", help="self-check one completed exercise notebook")
    c.add_argument("notebook")
    c.add_argument("--assignment", default=None,
                   help="assignment id (default: the course's assignment whose graded cells "
                        "the notebook has, whatever its file name)")
    c.add_argument("--feedback", type=Path, default=None, metavar="FILE",
                   help="also write the feedback page (one offline HTML file) to FILE")
    _add_limits(c)
    c.set_defaults(func=check)
    add_server_commands(sub, _add_limits)  # serve, tokens, attempts (serve_cli.py)
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``l2course`` command line."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy autoflush warnings
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        return args.func(args)
    except (SandboxUnavailable, SubmissionError, FileNotFoundError, ClusterUnavailable,
            GradebookUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
