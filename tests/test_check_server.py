"""The self-check server (``l2course serve``, issue 20), driven over HTTP and in real Chromium.

ONE server runs for the whole module: a copy of the grader's fixture course (a 5-point
assignment whose test cells hold a hidden test) plus the real ``ex01-penalty`` (so a notebook
can be uploaded to the wrong exercise), 2 grading workers, a queue of 4, tokens for every
learner. Through the upload page in Debian's Chromium: a correct, a wrong, a crashing and a
hanging notebook, then every kind of bad input, each answered with its message; the page works
offline and on a phone. Over HTTP: tokens, the rate limit, the busy answer, and a bounded load
test (``L2_LOAD_UPLOADS`` uploads, default 24, from 8 concurrent learners) in which every
request is answered and each answer belongs to its own upload. The load figures (latency p50/p95,
the server's memory at rest and under load) go to ``_build/check-server-load.json``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import httpx
import nbformat
import pytest

from conftest import REPO, tool_env

pytestmark = pytest.mark.grading

GRADER = REPO / "tests" / "grader"
CORPUS = GRADER / "corpus" / "submitted"
L2COURSE = [sys.executable, "-m", "l2course.cli"]
# 24 keeps the module near 3 min on a busy 2-core machine; L2_LOAD_UPLOADS=40 for the full figure
LOAD_UPLOADS = int(os.environ.get("L2_LOAD_UPLOADS", "24"))
LOAD_CLIENTS = 8
RATE = 12  # per learner per minute: the load test's learners upload 5 times in well over 10 s
MAX_UPLOAD = 1024**2
LEARNERS = ["alice", "bob", "carol", "spam", *(f"load-{i}" for i in range(LOAD_CLIENTS))]
HIDDEN_CODE = ("np.arange(4)", "BEGIN HIDDEN", "allclose")  # only in the hidden test (the visible one asserts too)
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "_build" / "screenshots" / "check-server"
ELSEWHERE: list[str] = []  # requests the browser made to any other host (there must be none)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def corpus(student: str) -> bytes:
    return (CORPUS / student / "fixture" / "fixture.ipynb").read_bytes()


def with_nonce(nonce: str) -> bytes:
    """The correct notebook with an answer that raises ``ValueError(nonce)``: 0 points, and
    the nonce in every test's message — so an answer given to the wrong upload shows."""
    nb = nbformat.reads(corpus("correct").decode(), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "squares":
            cell.source = f"def sum_of_squares(w):\n    raise ValueError({nonce!r})"
    return nbformat.writes(nb).encode()


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


@dataclass
class Server:
    url: str
    course: Path
    proc: subprocess.Popen
    tokens: dict[str, str]

    def post(self, assignment: str, body: bytes | None, learner: str | None = "alice",
             filename: str = "fixture.ipynb", json_: bool = True, timeout: float = 300,
             **kw: Any) -> httpx.Response:
        headers = {"Accept": "application/json"} if json_ else {}
        if learner is not None:
            headers["Authorization"] = f"Bearer {self.tokens[learner]}"
        # body None: a multipart upload without the notebook field (a file under another name)
        files = ({"file": (filename, b"{}", "application/json")} if body is None else
                 {"notebook": (filename, body, "application/json")})
        return httpx.post(f"{self.url}check/{assignment}", files=files, headers=headers,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("check-server")
    course = root / "course"
    shutil.copytree(GRADER / "course", course)
    shutil.copytree(REPO / "solutions" / "ex01-penalty", course / "source" / "ex01-penalty",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    issued = subprocess.run([*L2COURSE, "tokens", "issue", *LEARNERS], cwd=course,
                            capture_output=True, text=True, env=tool_env(), check=True)
    tokens = dict(line.split("\t") for line in issued.stdout.splitlines())
    proc = subprocess.Popen(
        [*L2COURSE, "serve", "--port", "0", "--jobs", "2", "--queue", "4", "--rate", str(RATE),
         "--max-upload", str(MAX_UPLOAD), "--cell-timeout", "5", "--notebook-timeout", "60",
         "--memory", "2G", "--processes", "24"],
        cwd=course, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    url = None
    assert proc.stdout is not None
    deadline = time.monotonic() + 400  # two worker processes import nbgrader on 2 busy cores
    for line in proc.stdout:
        if "listening on " in line:
            url = line.split("listening on ", 1)[1].strip()
            break
        if time.monotonic() > deadline:
            break
    if url is None:
        proc.kill()
        pytest.fail(f"the server did not start:\n{proc.stdout.read()}")
    # keep draining the log so the server never blocks on a full pipe
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        yield Server(url, course, proc, tokens)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --------------------------------------------------------------------------- HTTP
def test_json_feedback_names_the_mistake_not_the_code(server: Server) -> None:
    r = server.post("fixture", corpus("partial"), learner="alice")
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["score"], data["max_score"], data["learner"]) == (2.0, 5.0, "alice")
    cells = {c["grade_id"]: c for c in data["cells"]}
    assert cells["test_basic"]["passed"] and not cells["test_hidden"]["passed"]
    assert "the empty vector has no penalty" in cells["test_hidden"]["message"]
    assert not any(code in r.text for code in HIDDEN_CODE)


def test_tokens_are_required(server: Server) -> None:
    r = server.post("fixture", corpus("correct"), learner=None)
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = httpx.post(f"{server.url}check/fixture", headers={"Authorization": "Bearer nope",
                                                          "Accept": "application/json"},
                   files={"notebook": ("f.ipynb", corpus("correct"))})
    assert r.status_code == 403 and "not valid" in r.json()["error"]


@pytest.mark.parametrize("assignment, body, status, message", [
    ("fixture", corpus("invalid-json"), 400, "is not valid JSON"),
    ("fixture", b"", 400, "empty file"),
    ("fixture", b'{"cells": "no", "metadata": {}}', 400, "not a Jupyter notebook"),
    ("fixture", None, 400, "No notebook in the upload"),
    ("ex01-penalty", corpus("correct"), 400, "It looks like fixture"),
    ("ex99-nothing", corpus("correct"), 404, "no exercise called 'ex99-nothing'"),
])
def test_bad_input_is_refused_with_its_reason(server: Server, assignment: str,
                                              body: bytes | None, status: int,
                                              message: str) -> None:
    r = server.post(assignment, body, learner="bob")
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_form_urlencoded_is_refused(server: Server) -> None:
    r = httpx.post(f"{server.url}check/fixture", data={"token": server.tokens["bob"]},
                   headers={"Accept": "application/json"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]


def test_rate_limit_per_learner(server: Server) -> None:
    answers = [server.post("fixture", b"not json", learner="spam") for _ in range(RATE + 1)]
    assert [r.status_code for r in answers] == [400] * RATE + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert f"At most {RATE} checks a minute" in answers[-1].json()["error"]
    # another learner is not affected
    assert server.post("fixture", b"not json", learner="bob").status_code == 400


def test_one_check_at_a_time_per_learner(server: Server) -> None:
    first: dict[str, httpx.Response] = {}
    # the first check runs at least 5 s (an endless loop, stopped by the cell time limit)
    thread = threading.Thread(
        target=lambda: first.setdefault("r", server.post("fixture", corpus("infinite-loop"),
                                                         learner="carol")))
    thread.start()
    time.sleep(1.5)
    second = server.post("fixture", corpus("correct"), learner="carol")
    thread.join()
    assert second.status_code == 429 and "already have a check running" in second.text
    assert first["r"].status_code == 200
    assert (first["r"].json()["status"], first["r"].json()["score"]) == ("limit", 0.0)


def test_beyond_loopback_needs_tokens(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(GRADER / "course", course)
    proc = subprocess.run([*L2COURSE, "serve", "--host", "0.0.0.0", "--port", "0"], cwd=course,
                          capture_output=True, text=True, env=tool_env(), timeout=120)
    assert proc.returncode == 2
    assert "needs learner tokens" in proc.stderr and "l2course tokens issue" in proc.stderr


# --------------------------------------------------------------------------- Chromium
@pytest.fixture(scope="module")
def page(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A phone-sized Chromium page that records every request to another host."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS, headless=True, viewport={"width": 390, "height": 844},
            locale="en-US", service_workers="block")
        page = context.new_page()
        host = urlparse(server.url).netloc
        page.on("request", lambda req: urlparse(req.url).netloc not in (host, "")
                and ELSEWHERE.append(req.url))
        page.set_default_timeout(300_000)
        try:
            yield page
        finally:
            context.close()


def upload(page: Any, server: Server, tmp_path: Path, name: str, body: bytes,
           assignment: str = "fixture") -> str:
    """Open the page as alice (token in the link), upload ``body``, return the answer's text."""
    path = tmp_path / name
    path.write_bytes(body)
    page.goto(f"{server.url}?token={server.tokens['alice']}")
    page.select_option("#assignment", assignment)
    page.set_input_files("#notebook", str(path))
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page.inner_text("main")


def score(text: str) -> str | None:
    """The first "N / M" of a feedback page's text ("Score: 2 / 5", "2.0 / 5.0 points"…)."""
    found = re.search(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", text)
    return f"{float(found[1]):g} / {float(found[2]):g}" if found else None


def test_upload_page_offline_on_a_phone(server: Server, page: Any) -> None:
    page.goto(f"{server.url}?assignment=ex01-penalty")
    options = page.eval_on_selector_all("#assignment option", "els => els.map(e => e.value)")
    assert options == ["ex01-penalty", "fixture"]  # derived from the course's folders
    assert page.input_value("#assignment") == "ex01-penalty"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for control in ("#assignment", "#token", "#notebook", "button[type=submit]"):
        box = page.locator(control).bounding_box()
        assert box["height"] >= 24 and box["x"] + box["width"] <= 390, control
    labels = page.eval_on_selector_all("label", "els => els.map(e => e.htmlFor)")
    assert {"assignment", "token", "notebook"} <= set(labels)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "upload-page.png"), full_page=True)
    assert ELSEWHERE == []


def test_correct_wrong_and_hostile_through_the_page(server: Server, page: Any,
                                                    tmp_path: Path) -> None:
    # the page may be this server's or the grader's private feedback (Checked.feedback_html)
    text = upload(page, server, tmp_path, "fixture.ipynb", corpus("correct"))
    assert score(text) == "5 / 5"
    text = upload(page, server, tmp_path, "fixture.ipynb", corpus("wrong"))
    assert score(text) == "0 / 5" and "[1, 2] should give 5" in text
    assert not any(code in page.content() for code in HIDDEN_CODE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # phone: no sideways
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "feedback-wrong.png"), full_page=True)
    # a kernel that kills itself, then one that never ends: only those checks are affected
    text = upload(page, server, tmp_path, "fixture.ipynb", corpus("os-exit"))
    assert score(text) == "0 / 5" and re.search("kernel ?died", text, re.IGNORECASE)
    text = upload(page, server, tmp_path, "fixture.ipynb", corpus("infinite-loop"))
    assert score(text) == "0 / 5" and re.search("limit|timeout", text, re.IGNORECASE)
    text = upload(page, server, tmp_path, "my-copy.ipynb", corpus("correct"))
    assert score(text) == "5 / 5"
    page.click("text=Check another notebook")
    assert page.input_value("#assignment") == "fixture"
    assert ELSEWHERE == []


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("fixture.ipynb", corpus("correct"))
    return buffer.getvalue()


@pytest.mark.parametrize("name, body, assignment, message", [
    ("fixture.ipynb", corpus("invalid-json"), "fixture", "is not valid JSON"),
    ("fixture.ipynb", b'{"hello": "world"}', "fixture", "is not a Jupyter notebook"),
    ("fixture.ipynb", corpus("correct"), "ex01-penalty", "is not a notebook of ex01-penalty"),
    ("fixture.zip", _zip(), "fixture", "This is a zip file"),
    ("fixture.ipynb", b" " * (2 * MAX_UPLOAD), "fixture", "larger than 1 MB"),
])
def test_bad_input_through_the_page(server: Server, page: Any, tmp_path: Path, name: str,
                                    body: bytes, assignment: str, message: str) -> None:
    text = upload(page, server, tmp_path, name, body, assignment)
    assert "Cannot check this upload" in text and message in text
    assert page.locator("[role=alert]").count() == 1


# --------------------------------------------------------------------------- load
def test_load_every_upload_answered_nothing_mixed(server: Server) -> None:
    """``LOAD_UPLOADS`` uploads from 8 learners at once, each honouring 503 Retry-After."""
    per_client = LOAD_UPLOADS // LOAD_CLIENTS
    kinds = [("correct", corpus("correct"), 5.0), ("partial", corpus("partial"), 2.0)]
    latencies: list[float] = []  # per upload, from the first try to the answer
    service: list[float] = []  # per upload, in the server: waiting for a worker + the check
    busy: list[int] = []
    failures: list[str] = []
    peak = [0]
    rest = tree_rss(server.proc.pid)
    start = threading.Barrier(LOAD_CLIENTS)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(server.proc.pid))
            time.sleep(0.5)

    def client(i: int) -> None:
        learner = f"load-{i}"
        start.wait()
        with httpx.Client(timeout=300) as http:
            for j in range(per_client):
                nonce = f"nonce-{i}-{j}"
                name, body, score = (kinds[j % 2] if (i + j) % 3 else
                                     ("nonce", with_nonce(nonce), 0.0))
                began = time.perf_counter()
                while True:
                    r = http.post(f"{server.url}check/fixture",
                                  headers={"Accept": "application/json",
                                           "Authorization": f"Bearer {server.tokens[learner]}"},
                                  files={"notebook": ("fixture.ipynb", body)})
                    if r.status_code != 503:
                        break
                    busy.append(int(r.headers["Retry-After"]))
                    time.sleep(min(int(r.headers["Retry-After"]), 5))
                latencies.append(time.perf_counter() - began)
                data = r.json() if r.status_code == 200 else {}
                service.append(data.get("seconds", 0.0))
                if (r.status_code != 200 or data["learner"] != learner or data["score"] != score
                        or data["attempt"] != j + 1
                        or (name == "nonce") != (nonce in r.text)
                        or "nonce-" in r.text.replace(nonce, "")):
                    failures.append(f"{learner} #{j} {name}: {r.status_code} {r.text[:300]}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clients = [threading.Thread(target=client, args=(i,)) for i in range(LOAD_CLIENTS)]
    began = time.perf_counter()
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    wall = time.perf_counter() - began
    done.set()
    sampler.join()
    figures = {
        "uploads": len(latencies), "clients": LOAD_CLIENTS, "workers": 2, "queue": 4,
        "wall_s": round(wall, 1), "busy_503": len(busy),
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(statistics.quantiles(latencies, n=20)[-1], 2),
        "server_p50_s": round(statistics.median(service), 2),
        "server_p95_s": round(statistics.quantiles(service, n=20)[-1], 2),
        "rss_rest_mb": round(rest / 1024**2), "rss_peak_mb": round(peak[0] / 1024**2),
        "load_average": os.getloadavg(),
    }
    (REPO / "_build").mkdir(exist_ok=True)
    (REPO / "_build" / "check-server-load.json").write_text(json.dumps(figures, indent=1))
    print(figures)
    assert failures == []
    assert len(latencies) == per_client * LOAD_CLIENTS
    assert busy and all(b >= 1 for b in busy), "8 learners at once exceed 2 workers + 4 queued"


# --------------------------------------------------------------------------- the record
def test_attempts_counted_gradebook_untouched(server: Server) -> None:
    proc = subprocess.run([*L2COURSE, "attempts"], cwd=server.course, capture_output=True,
                          text=True, env=tool_env(), check=True)
    rows = {tuple(line.split("\t")[:2]): line.split("\t") for line in proc.stdout.splitlines()}
    assert rows[("spam", "fixture")][2] == str(RATE)  # the refused 13th is not an attempt
    assert rows[("carol", "fixture")][2:5] == ["1", "0", "5"]  # the refused second is not
    for kind in ("gradebook.db", "submitted", "autograded", "feedback", "grades.csv", "reports"):
        assert not (server.course / kind).exists(), kind
    assert (server.course / "check-server" / "attempts.sqlite").is_file()
    stored = (server.course / "check-server" / "tokens.json").read_text()
    assert not any(token in stored for token in server.tokens.values())


# --------------------------------------------------------------------------- the book
def _build_pages(root: Path, config_yml: str) -> str:
    """A two-page Sphinx project with the extension; the exercise page's HTML."""
    (root / "exercises" / "ex01-demo").mkdir(parents=True)
    (root / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / '_ext')!r})\n"
        "extensions = ['l2book.checkserver']\nexclude_patterns = ['_build']\n")
    (root / "index.rst").write_text("Course\n======\n\n.. toctree::\n\n"
                                    "   exercises/ex01-demo/ex01-demo\n")
    (root / "exercises" / "ex01-demo" / "ex01-demo.rst").write_text("Demo\n====\n\nText.\n")
    (root / "_config.yml").write_text(config_yml)
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "-q", str(root),
                           str(root / "_build")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return text_of((root / "_build" / "exercises" / "ex01-demo" / "ex01-demo.html").read_text())


def text_of(html: str) -> str:
    """The page without tags (Sphinx splits inline code into one span a word)."""
    return re.sub(r"<[^>]+>", "", html)


def test_exercise_pages_point_to_the_server_when_configured(tmp_path: Path) -> None:
    url = "https://check.example.org/"
    html = _build_pages(tmp_path / "with", f"l2course:\n  check_server: {url}\n")
    assert f"{url}?assignment=ex01-demo" in html and "Check your work online" in html
    html = _build_pages(tmp_path / "without", "l2course:\n  check_server: ''\n")
    assert "l2course check ex01-demo.ipynb" in html and "example.org" not in html


def test_the_book_points_to_l2course_check(built_book: Any) -> None:
    """The course's own book names no server: its exercise pages give the command."""
    pages = sorted(Path(built_book.html_dir).glob("exercises/*/*.html"))
    assert pages, "no exercise page in the built book"
    for page in pages:
        assert f"l2course check {page.stem}.ipynb" in text_of(page.read_text()), page.name


# --------------------------------------------------------------------------- units
def test_token_store_keeps_hashes_and_replaces_tokens(tmp_path: Path) -> None:
    from l2course.tokens import TokenStore

    store = TokenStore.in_dir(tmp_path)
    first = store.issue(["ann", "ben"])
    assert store.learner_of(first["ann"]) == "ann" and store.learner_of("guess") is None
    again = store.issue(["ann"])  # a lost token is replaced: the old one stops working
    assert store.learner_of(first["ann"]) is None and store.learner_of(again["ann"]) == "ann"
    assert store.revoke(["ben", "nobody"]) == ["nobody"]
    assert store.learner_of(first["ben"]) is None
    assert first["ann"] not in store.path.read_text()
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="invalid learner id"):
        store.issue(["../etc"])


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True),
                                            ("::1", True), ("0.0.0.0", False),
                                            ("192.168.1.5", False), ("example.org", False)])
def test_loopback(host: str, loopback: bool) -> None:
    from l2course.server import is_loopback

    assert is_loopback(host) is loopback


def test_private_pages_show_results_and_messages_only() -> None:
    """The minimal page is built from CellGrade fields; the grader's own page gets a back link."""
    from l2course.checkpage import feedback_page, with_back_link
    from l2course.grading import Checked
    from l2course.models import CellGrade, Result

    result = Result("learner", score=2, max_score=5, cells={"nb": [
        CellGrade("test_basic", 2, 2, False), CellGrade("test_hidden", 0, 3, False, "<b>x</b>")]})
    html = feedback_page("fixture", Checked(["renamed"], result=result), attempt=4)
    assert "Score: 2 / 5" in html and "&lt;b&gt;x&lt;/b&gt;" in html and "Attempt 4" in html
    assert "passed</span> <code>test_basic</code>" in html and "Note: renamed" in html
    private = with_back_link("<!DOCTYPE html><html><body class='fb'><h1>F</h1></body></html>",
                             "fixture", 2)
    assert private.index("Check another notebook") < private.index("<h1>F</h1>")
