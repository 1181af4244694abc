"""The instructor's commands around grading: ``release``, ``report`` and ``export``.

  l2course release ASSIGNMENT                         regenerate exercises/ASSIGNMENT atomically
  l2course report ASSIGNMENT                          rebuild reports/ASSIGNMENT/ from the gradebook
  l2course export ASSIGNMENT --format F -o FILE       grades for Canvas, Moodle or as CSV
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .classdata import read_class, report_dir
from .classreport import write_report
from .course import Course
from .export import FORMATS, ExportError, export
from .release import ReleaseError, release


def _course(args: argparse.Namespace) -> Course:
    return Course.load(args.course_dir or Path.cwd())


def release_command(args: argparse.Namespace) -> int:
    course = _course(args)
    try:
        dest = release(course, args.assignment, args.db_url)
    except ReleaseError as exc:
        print(f"error: {exc}\nnothing was replaced: "
              f"{course.folder('release') / args.assignment} is as it was", file=sys.stderr)
        return 1
    print(f"released {args.assignment}: {dest}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    course = _course(args)
    page = write_report(read_class(course, args.assignment, args.db_url),
                        report_dir(course, args.assignment))
    print(f"class report: {page}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    try:
        n = export(_course(args), args.assignment, args.format, args.output,
                   db_url=args.db_url, column=args.column, key=args.key)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported {n} students' grades for {args.assignment} ({args.format}): {args.output}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("assignment", help="assignment id, e.g. ex01-penalty")
    p.add_argument("--course-dir", type=Path, default=None,
                   help="course root with nbgrader_config.py (default: current directory)")
    p.add_argument("--db-url", default=None,
                   help="SQLAlchemy URL of the gradebook (default: db_url in nbgrader_config.py)")


def add_commands(sub: Any) -> None:
    """Add ``release``, ``report`` and ``export`` to the ``l2course`` subcommands."""
    r = sub.add_parser("release", help="regenerate the student release atomically "
                                       "(nbgrader generate_assignment, replaced only on success)")
    _common(r)
    r.set_defaults(func=release_command)
    p = sub.add_parser("report", help="write the class report reports/ASSIGNMENT/ "
                                      "(index.html, items.csv) from the gradebook")
    _common(p)
    p.set_defaults(func=report_command)
    e = sub.add_parser("export", help="export an assignment's grades for an LMS")
    _common(e)
    e.add_argument("--format", "-f", choices=FORMATS, required=True)
    e.add_argument("--output", "-o", type=Path, required=True, help="the CSV file to write")
    e.add_argument("--column", default=None,
                   help="the grade column's name (default: the assignment id); for Canvas, "
                        "'Title (id)' updates the existing assignment id")
    e.add_argument("--key", choices=("email", "username"), default=None,
                   help="Moodle: identify students by email or username (default: email "
                        "when the gradebook has every student's email)")
    e.set_defaults(func=export_command)
