"""The self-check server's commands: ``l2course serve``, ``tokens`` and ``attempts``.

Registered on the ``l2course`` parser by :func:`add_commands` (one hook in :mod:`l2course.cli`).
The server's state — ``tokens.json`` (hashes only) and ``attempts.sqlite`` — lives in
``<course root>/check-server/`` unless ``--state-dir`` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .course import Course
from .models import parse_size

STATE_DIR = "check-server"


def _state(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir).resolve()
    return Course.load(args.course_dir or Path.cwd()).root / STATE_DIR


def serve(args: argparse.Namespace) -> int:
    from .checkpool import CheckPool
    from .cli import _settings
    from .server import ServerConfig, token_policy
    from .tokens import TokenStore
    from .server import serve as run_server

    course = Course.load(args.course_dir or Path.cwd())
    if not course.assignments():
        print(f"error: no assignments in {course.folder('source')}: run l2course serve from "
              "the course root (or pass --course-dir)", file=sys.stderr)
        return 2
    settings = _settings(args, course, args.jobs or os.cpu_count() or 1)
    config = ServerConfig(host=args.host, port=args.port, state=_state(args),
                          max_upload=args.max_upload, rate=args.rate, queue=args.queue)
    problem = token_policy(config, TokenStore.in_dir(config.state or _state(args)))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    pool = CheckPool(course, settings)
    print(f"l2course serve: starting {pool.size} grading workers…", flush=True)
    pool.start()
    try:
        return run_server(course, pool, config)
    finally:
        pool.close()


def tokens(args: argparse.Namespace) -> int:
    from .tokens import TokenStore

    store = TokenStore.in_dir(_state(args))
    if args.action == "issue":
        names = list(args.learners)
        if args.roster:
            names += [line.strip() for line in Path(args.roster).read_text().splitlines()
                      if line.strip() and not line.startswith("#")]
        if not names:
            print("error: name the learners (or --roster FILE)", file=sys.stderr)
            return 2
        try:
            issued = store.issue(names)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for name, token in issued.items():
            print(f"{name}\t{token}")
        print(f"# {len(issued)} token(s) issued; only their hashes are kept in {store.path}",
              file=sys.stderr)
    elif args.action == "revoke":
        unknown = store.revoke(list(args.learners))
        for name in unknown:
            print(f"warning: {name} had no token", file=sys.stderr)
    else:
        for name, entry in sorted(store.load().items()):
            print(f"{name}\tissued {entry['issued']}")
    return 0


def attempts(args: argparse.Namespace) -> int:
    from .attempts import AttemptLog

    log = AttemptLog(_state(args))
    print("learner\tassignment\tattempts\tbest\tmax\tlast")
    for learner, assignment, count, best, top, last in log.summary():
        fmt = (lambda v: "-" if v is None else f"{v:g}")
        print(f"{learner}\t{assignment}\t{count}\t{fmt(best)}\t{fmt(top)}\t{last}")
    return 0


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"tokens and attempts (default: <course root>/{STATE_DIR})")


def add_commands(sub: Any, add_limits: Any) -> None:
    """Add ``serve``, ``tokens`` and ``attempts`` to the ``l2course`` subparsers."""
    s = sub.add_parser("serve", help="run the self-check server (upload page + POST /check)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; beyond loopback needs tokens)")
    s.add_argument("--port", type=int, default=8800, help="port (default 8800; 0 = any free)")
    s.add_argument("--jobs", "-j", type=int, default=None,
                   help="grading workers (default: number of cores)")
    s.add_argument("--queue", type=int, default=8,
                   help="checks that may wait for a worker; more get 503 busy (default 8)")
    s.add_argument("--rate", type=int, default=6,
                   help="uploads a minute per learner (default 6)")
    s.add_argument("--max-upload", type=parse_size, default=parse_size("5M"),
                   help="largest notebook accepted (default 5M)")
    _state_option(s)
    add_limits(s)
    s.set_defaults(func=serve)

    t = sub.add_parser("tokens", help="issue, list or revoke learners' tokens for serve")
    t.add_argument("action", choices=["issue", "list", "revoke"])
    t.add_argument("learners", nargs="*", help="learner ids")
    t.add_argument("--roster", default=None, help="file with one learner id a line (issue)")
    t.add_argument("--course-dir", type=Path, default=None)
    _state_option(t)
    t.set_defaults(func=tokens)

    a = sub.add_parser("attempts", help="attempts at the self-check server, per learner")
    a.add_argument("--course-dir", type=Path, default=None)
    _state_option(a)
    a.set_defaults(func=attempts)
