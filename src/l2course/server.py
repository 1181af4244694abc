"""``l2course serve``: the self-check server — upload a notebook, get the private feedback.

Web stack: Tornado 6, already in the locked environment (Jupyter's own server runs on it), so the
server adds no dependency; it is maintained, asynchronous, and streams request bodies (an
oversized upload is counted and dropped, never held in memory).

  GET  /                         the upload page (``?assignment=…&token=…`` prefill the form)
  POST /check/<assignment>       multipart field ``notebook`` (and ``token`` or
  POST /check                    ``Authorization: Bearer …``; ``assignment`` as a field here)
                                 → the feedback page, or JSON with ``Accept: application/json``
  GET  /healthz                  ``ok`` once the workers are up

Safe by default: grading runs in :class:`~l2course.checkpool.CheckPool` (the sandboxed
``check_notebook`` of ``l2course check``, in long-lived worker processes that are killed and
replaced on overrun), uploads are capped (``--max-upload``), each learner has one check at a
time and ``--rate`` per minute, and at most ``jobs + --queue`` checks are admitted: beyond that
the answer is 503 with ``Retry-After``. Bad input is refused before any grading with a clear
message. Learner tokens (:mod:`l2course.tokens`) are required once issued, and always when the
server listens beyond loopback. Attempts go to ``attempts.sqlite`` (:mod:`l2course.attempts`);
the course's gradebook is never written.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.httputil import HTTPFile, parse_body_arguments

from .attempts import AttemptLog
from .checkpage import (CSP, error_page, feedback_json, feedback_page, upload_page,
                        with_back_link)
from .checkpool import CheckJob, CheckPool
from .course import Course
from .submissions import STUDENT_ID, read_notebook
from .tokens import TokenStore

#: Multipart framing allowed on top of ``max_upload`` before an upload counts as too large.
FRAMING = 64 * 1024


class Refused(Exception):
    """An upload answered without grading: HTTP status, message, optional Retry-After."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def grade_ids(course: Course, assignment: str) -> set[str]:
    """The nbgrader cell ids of an assignment's source notebooks (to spot a wrong upload)."""
    ids: set[str] = set()
    for path in course.source(assignment).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid:
                ids.add(gid)
    return ids


@dataclass
class ServerConfig:
    """What ``l2course serve`` was asked for (limits of the grading itself are in Settings)."""

    host: str = "127.0.0.1"
    port: int = 8800
    state: Path | None = None
    max_upload: int = 5 * 1024**2
    rate: int = 6
    queue: int = 8
    require_tokens: bool = False


@dataclass
class Learner:
    running: bool = False
    recent: deque[float] = field(default_factory=deque)


class CheckService:
    """The server's state: assignments, pool, tokens, attempts, per-learner limits."""

    def __init__(self, course: Course, pool: CheckPool, config: ServerConfig,
                 tokens: TokenStore, attempts: AttemptLog) -> None:
        self.course, self.pool, self.config = course, pool, config
        self.tokens, self.attempts = tokens, attempts
        self.assignments = {a: grade_ids(course, a) for a in course.assignments()}
        self.learners: dict[str, Learner] = {}
        self.in_flight = 0

    # -- who ------------------------------------------------------------------------------
    def learner(self, token: str, name: str, address: str) -> str:
        if self.config.require_tokens:
            if not token:
                raise Refused(401, "This server needs your token: your instructor gave it to "
                                   "you (paste it into the form, or send it as "
                                   "'Authorization: Bearer TOKEN').")
            found = self.tokens.learner_of(token)
            if found is None:
                raise Refused(403, "This token is not valid (mistyped, or replaced by a newer "
                                   "one): ask your instructor.")
            return found
        if name and STUDENT_ID.match(name):
            return name
        return f"anonymous@{address}"

    def admit(self, learner: str) -> Learner:
        """Per-learner limits: one check at a time, ``rate`` uploads a minute.

        Every upload past this point counts against the rate (bad input too), except one the
        server is too busy to take.
        """
        state = self.learners.setdefault(learner, Learner())
        if state.running:
            raise Refused(429, "You already have a check running: wait for its result.", 5)
        now = time.monotonic()
        while state.recent and now - state.recent[0] > 60:
            state.recent.popleft()
        if len(state.recent) >= self.config.rate:
            wait = max(1, math.ceil(60 - (now - state.recent[0])))
            raise Refused(429, f"At most {self.config.rate} checks a minute: retry in {wait} s.",
                          wait)
        return state

    def capacity(self) -> None:
        """The bounded queue: at most ``jobs + queue`` checks admitted at once."""
        if self.in_flight >= self.pool.size + self.config.queue:
            ahead = self.in_flight - self.pool.size + 1
            wait = max(1, math.ceil(self.pool.typical_seconds() * ahead / self.pool.size))
            raise Refused(503, f"The server is busy: retry in {wait} s.", wait)

    # -- what -----------------------------------------------------------------------------
    def assignment(self, name: str) -> str:
        if name not in self.assignments:
            known = ", ".join(self.assignments) or "none"
            raise Refused(404, f"There is no exercise called '{name}' here. "
                               f"Exercises: {known}.")
        return name

    def notebook(self, upload: HTTPFile | None, assignment: str, folder: Path) -> Path:
        """Write the upload to ``folder`` if it is a notebook of ``assignment``; else refuse."""
        if upload is None:
            raise Refused(400, "No notebook in the upload: send the .ipynb file as the "
                               "form field 'notebook'.")
        body = upload.body
        if body[:4] == b"PK\x03\x04" or body[:4] == b"PK\x05\x06":
            raise Refused(415, "This is a zip file: upload the notebook (.ipynb) itself, "
                               "not an archive.")
        path = folder / f"{assignment}.ipynb"
        path.write_bytes(body)
        name = Path(upload.filename or "notebook.ipynb").name
        nb, problem = read_notebook(path)
        if nb is None:
            assert problem is not None
            problem = problem.replace(path.name, name, 1)
            raise Refused(400, f"{problem}. Upload the .ipynb file saved by Jupyter "
                               "(File → Save, then File → Download).")
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells}
        ids.discard(None)
        if not ids & self.assignments[assignment]:
            guess = [a for a, known in self.assignments.items() if ids & known]
            hint = (f" It looks like {guess[0]}: choose that exercise." if guess else
                    " Download the exercise notebook from the book and work in it.")
            raise Refused(400, f"{name} is not a notebook of {assignment}: none of its graded "
                               f"cells are there.{hint}")
        return path

    async def check(self, learner: str, assignment: str, upload: HTTPFile | None
                    ) -> tuple[Any, int, float]:
        """Validate, queue and grade one upload: ``(Checked, attempt number, seconds)``."""
        state = self.admit(learner)
        folder = Path(tempfile.mkdtemp(prefix="l2course-upload-"))
        try:
            os.chmod(folder, 0o755)
            try:
                path = self.notebook(upload, assignment, folder)
            except Refused:
                state.recent.append(time.monotonic())
                self.attempts.add(learner, assignment, "rejected")
                raise
            self.capacity()
            state.recent.append(time.monotonic())
            self.in_flight += 1
            state.running = True
            try:
                started = time.monotonic()
                checked = await asyncio.wrap_future(
                    self.pool.submit(CheckJob(assignment, str(path))))
            finally:
                self.in_flight -= 1
                state.running = False
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        seconds = time.monotonic() - started
        if checked.rejected:
            self.attempts.add(learner, assignment, "rejected")
            raise Refused(400, f"Cannot grade this notebook: {checked.rejected}.")
        result = checked.result
        attempt = self.attempts.add(learner, assignment, str(result.status), result.score,
                                    result.max_score, round(seconds, 2))
        return checked, attempt, seconds


class Base(tornado.web.RequestHandler):
    service: CheckService

    def initialize(self, service: CheckService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    def wants_json(self) -> bool:
        return "application/json" in self.request.headers.get("Accept", "")

    def refuse(self, status: int, message: str, retry_after: int | None = None,
               assignment: str = "") -> None:
        self.set_status(status)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        if self.wants_json():
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": message, "status": status,
                                    "retry_after": retry_after}))
        else:
            self.finish(error_page(status, message, assignment))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.refuse(status_code, self._reason)


class UploadPage(Base):
    def get(self) -> None:
        s = self.service
        self.finish(upload_page(list(s.assignments), tokens=s.config.require_tokens,
                                selected=self.get_query_argument("assignment", ""),
                                token=self.get_query_argument("token", ""),
                                max_upload=s.config.max_upload, rate=s.config.rate))


class Health(Base):
    def get(self) -> None:
        self.finish("ok")


@tornado.web.stream_request_body
class Check(Base):
    """``POST /check[/<assignment>]``: the body is streamed, capped, then parsed."""

    def prepare(self) -> None:
        limit = self.service.config.max_upload + FRAMING
        self.chunks: list[bytes] = []
        self.size = 0
        self.limit = limit
        # read (and drop) up to 4× the limit, to answer with a message; beyond, close
        self.request.connection.set_max_body_size(4 * limit)  # type: ignore[union-attr]
        length = int(self.request.headers.get("Content-Length", "0") or 0)
        if length > 4 * limit:
            self.refuse(413, self._too_large())

    def _too_large(self) -> str:
        mb = self.service.config.max_upload / 1024**2
        return (f"The upload is larger than {mb:g} MB. A notebook that large holds big "
                "outputs: clear them (Edit → Clear Outputs of All Cells), save, and upload "
                "again.")

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size <= self.limit:
            self.chunks.append(chunk)
        else:
            self.chunks = []

    async def post(self, assignment: str | None = None) -> None:
        name = assignment or ""
        try:
            if self.size > self.limit:
                raise Refused(413, self._too_large())
            args: dict[str, list[bytes]] = {}
            files: dict[str, list[HTTPFile]] = {}
            content_type = self.request.headers.get("Content-Type", "")
            if not content_type.startswith("multipart/form-data"):
                raise Refused(400, "Send the notebook as multipart/form-data, in the field "
                                   "'notebook'.")
            parse_body_arguments(content_type, b"".join(self.chunks), args, files,
                                 self.request.headers)
            self.chunks = []
            field_ = {k: v[0].decode("utf-8", "replace").strip() for k, v in args.items() if v}
            name = assignment or field_.get("assignment", "")
            s = self.service
            auth = self.request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            learner = s.learner(token or field_.get("token", ""), field_.get("learner", ""),
                                self.request.remote_ip or "unknown")
            s.assignment(name)
            upload = (files.get("notebook") or [None])[0]
            checked, attempt, seconds = await s.check(learner, name, upload)
        except Refused as refused:
            self.refuse(refused.status, refused.message, refused.retry_after, name)
            return
        if self.wants_json():
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(feedback_json(name, learner, checked, attempt, seconds)))
            return
        private = getattr(checked, "feedback_html", None)
        if private:
            # the grader's own private page: allow its inline script, still nothing external
            self.set_header("Content-Security-Policy",
                            CSP.replace("default-src 'none';",
                                        "default-src 'none'; script-src 'unsafe-inline';"))
            self.finish(with_back_link(private, name, attempt))
        else:
            self.finish(feedback_page(name, checked, attempt))


class NotFound(Base):
    def prepare(self) -> None:
        self.refuse(404, "No such page: the upload page is at /.")


def make_app(service: CheckService) -> tornado.web.Application:
    kw = {"service": service}
    return tornado.web.Application(
        [(r"/", UploadPage, kw), (r"/healthz", Health, kw),
         (r"/check/?", Check, kw), (r"/check/([^/]+)", Check, kw)],
        default_handler_class=NotFound, default_handler_args=kw)


def token_policy(config: ServerConfig, tokens: TokenStore) -> str | None:
    """Set ``config.require_tokens`` (once any token is issued); an error if unsafe to run.

    Beyond loopback anyone who reaches the port could make the server run code, so the server
    refuses to start there until the instructor has issued tokens.
    """
    config.require_tokens = config.require_tokens or bool(tokens.load())
    if not is_loopback(config.host) and not config.require_tokens:
        return (f"listening on {config.host} (beyond loopback) needs learner tokens: anyone who "
                "reaches the server could run code on it. Issue them first with\n"
                "    l2course tokens issue LEARNER [LEARNER ...]")
    return None


def serve(course: Course, pool: CheckPool, config: ServerConfig) -> int:
    """Run the server until SIGINT/SIGTERM (``config`` passed :func:`token_policy`)."""
    assert config.state is not None
    state = config.state
    tokens = TokenStore.in_dir(state)
    service = CheckService(course, pool, config, tokens, AttemptLog(state))
    return asyncio.run(_run(service, config, state))


async def _run(service: CheckService, config: ServerConfig, state: Path) -> int:
    access = logging.getLogger("tornado.access")
    access.setLevel(logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access.addHandler(handler)
    sockets = tornado.netutil.bind_sockets(config.port, config.host)
    server = tornado.httpserver.HTTPServer(make_app(service), max_body_size=64 * 1024**2)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"l2course serve: {len(service.assignments)} exercises, {service.pool.size} "
          f"workers, queue {config.queue}, tokens "
          f"{'required' if config.require_tokens else 'not required (loopback)'}; "
          f"attempts in {state / 'attempts.sqlite'}", flush=True)
    print(f"l2course serve: listening on http://{host}:{port}/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await asyncio.to_thread(service.pool.close)
    return 0
