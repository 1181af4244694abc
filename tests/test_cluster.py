"""Grading on a Dask cluster into PostgreSQL (``l2course grade --scheduler … --db-url …``).

One real PostgreSQL server (``initdb`` in a temporary folder, 127.0.0.1 only, run as the
``postgres`` user under root) and one local Dask cluster (a ``dask scheduler`` and two
single-threaded ``dask worker`` processes on 127.0.0.1) serve the whole module. The hostile
corpus is graded through them and must give what the local run gives (``expected.json``, which
``test_grader.py`` checks locally), read back with ``nbgrader export``; a worker killed mid-run
loses no submission and grades none twice. Wall time on the shared 2-core machine: ~3-4 min.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, tool_env
from services import dask_cluster, free_port, postgres_bin, postgres_server

from l2course.cli import main
from l2course.cluster import CourseBundle
from l2course.course import Course
from l2course.database import normalise_db_url, shown

pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]

HERE = Path(__file__).resolve().parent / "grader"
CORPUS = HERE / "corpus"
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text())
L2COURSE = [sys.executable, "-m", "l2course.cli"]
# As test_grader.py, with a little more time per cell: two workers share two busy cores.
LIMITS = ["--cell-timeout", "10", "--notebook-timeout", "60", "--memory", "2G",
          "--processes", "24"]
#: Walks the whole file system looking for the source: on a busy machine the cell limit may end
#: it first (``limit``, not ``graded``); its score is 0 either way, which is what it proves.
TIME_BOUND = {"read-solutions": {"graded", "limit"}}
#: The kill test's subset: quick submissions, one of them crashing its kernel.
KILL_SUBSET = ["blank", "correct", "os-exit", "partial", "renamed", "sys-exit", "wrong"]


def grade(course: Path, submitted: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*L2COURSE, "grade", "fixture", str(submitted), *LIMITS, *extra],
                          cwd=course, capture_output=True, text=True, env=tool_env(),
                          timeout=900)


def summary_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows by student (each must appear once)."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        parts = line.split(None, 4)
        if parts and parts[0] in EXPECTED:
            assert parts[0] not in rows, f"{parts[0]} listed twice:\n{stdout}"
            rows[parts[0]] = parts
    return rows


def fresh_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(HERE / "course", course)
    return course


@pytest.fixture(scope="module")
def postgres():
    if postgres_bin("initdb") is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def cluster():
    with dask_cluster(2, env=tool_env()) as running:
        yield running


# -- no cluster needed --------------------------------------------------------------------
def test_course_bundle_carries_the_source(tmp_path: Path) -> None:
    """What a task carries rebuilds the course on a worker with no shared file system."""
    course = Course.load(HERE / "course")
    bundle = CourseBundle.of(course, "fixture")
    rebuilt = bundle.unpack(tmp_path / "elsewhere")
    assert rebuilt.course_id == "l2course-fixture"
    assert (rebuilt.source("fixture") / "fixture.ipynb").read_bytes() == (
        course.source("fixture") / "fixture.ipynb").read_bytes()
    assert bundle.digest == CourseBundle.of(course, "fixture").digest


def test_db_url_spelling() -> None:
    assert normalise_db_url("postgresql://u:pw@h/db") == "postgresql+psycopg://u:pw@h/db"
    assert normalise_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_db_url("sqlite:///x.db") == "sqlite:///x.db"
    assert "pw" not in shown("postgresql+psycopg://u:pw@h/db")


def cli(capsys: pytest.CaptureFixture[str], course: Path, *extra: str) -> tuple[int, str]:
    """``l2course grade fixture <corpus>`` in this process (no interpreter start-up to wait for)."""
    code = main(["grade", "fixture", str(CORPUS / "submitted"), "--course-dir", str(course),
                 *LIMITS, *extra])
    return code, capsys.readouterr().err


def test_unreachable_scheduler_writes_nothing(tmp_path: Path, capsys) -> None:
    course = fresh_course(tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    code, err = cli(capsys, course, "--scheduler", address)
    assert code == 2, err
    assert f"error: cannot reach the Dask scheduler at {address}" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in course.iterdir()) == ["nbgrader_config.py", "source"]


def test_unreachable_database_writes_nothing(tmp_path: Path, capsys) -> None:
    course = fresh_course(tmp_path)
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/gradebook"
    code, err = cli(capsys, course, "--db-url", url)
    assert code == 2, err
    assert "error: cannot open the gradebook postgresql+psycopg://postgres:***@127.0.0.1" in err
    assert "secret" not in err and "Traceback" not in err
    assert sorted(p.name for p in course.iterdir()) == ["nbgrader_config.py", "source"]


# -- the corpus through the cluster into PostgreSQL ---------------------------------------
@pytest.fixture(scope="module")
def graded(postgres, cluster, tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = fresh_course(tmp_path_factory.mktemp("cluster"))
    url = postgres.url()
    proc = grade(course, CORPUS / "submitted", "--scheduler", cluster.address, "--db-url", url)
    return {"proc": proc, "course": course, "url": url}


def test_corpus_on_the_cluster_matches_the_local_run(graded: dict) -> None:
    """Same scores and statuses as ``l2course grade`` locally; feedback came back."""
    proc, course = graded["proc"], graded["course"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = summary_rows(proc.stdout)
    assert set(rows) == set(EXPECTED), proc.stdout
    for student, want in EXPECTED.items():
        assert float(rows[student][1]) == want["score"], rows[student]
        assert rows[student][3] in TIME_BOUND.get(student, {want["status"]}), rows[student]
        page = course / "feedback" / student / "fixture" / "fixture.html"
        if rows[student][3] == want["status"]:  # (a time-bound case may stop earlier)
            assert want["feedback"] in page.read_text(), student
        assert page.is_file(), student
    assert "postgresql://postgres@127.0.0.1" in proc.stdout  # the gradebook it wrote
    assert not (course / "gradebook.db").exists()  # SQLite untouched when --db-url is given
    assert not (course / "submitted").exists()


def test_postgres_gradebook_reads_back_with_nbgrader_export(graded: dict,
                                                            tmp_path: Path) -> None:
    """nbgrader's own export, from the PostgreSQL server, lists every student once."""
    rows = nbgrader_export(graded["url"], tmp_path)
    assert sorted(r["student_id"] for r in rows) == sorted(EXPECTED)
    for row in rows:
        assert float(row["raw_score"]) == EXPECTED[row["student_id"]]["score"], row
        assert float(row["max_score"]) == 5, row


def nbgrader_export(url: str, folder: Path) -> list[dict[str, str]]:
    """``nbgrader export`` of the fixture course's gradebook at ``url``, as CSV rows."""
    out = folder / "export.csv"
    db = normalise_db_url(url)  # nbgrader needs the psycopg 3 driver spelled out
    proc = subprocess.run([str(BIN / "nbgrader"), "export", f"--db={db}", f"--to={out}",
                           "--course=l2course-fixture"], cwd=folder, capture_output=True,
                          text=True, env=tool_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as fh:
        return list(csv.DictReader(fh))


def test_two_runs_write_one_postgres_gradebook_at_once(postgres, cluster,
                                                       tmp_path: Path) -> None:
    """Two assignments graded at the same time into one new PostgreSQL gradebook: both
    create its tables, the course and the same students; every grade is there once."""
    course = fresh_course(tmp_path)
    shutil.copytree(course / "source" / "fixture", course / "source" / "fixture2")
    (course / "source" / "fixture2" / "fixture.ipynb").rename(
        course / "source" / "fixture2" / "fixture2.ipynb")
    students = ["correct", "partial"]
    submitted = tmp_path / "submitted"
    for student in students:
        for a in ("fixture", "fixture2"):
            (submitted / student / a).mkdir(parents=True)
            shutil.copy(CORPUS / "submitted" / student / "fixture" / "fixture.ipynb",
                        submitted / student / a / f"{a}.ipynb")
    url = postgres.create("shared")
    runs = [subprocess.Popen([*L2COURSE, "grade", a, str(submitted), *LIMITS, "--scheduler",
                              cluster.address, "--db-url", url, "--csv", str(tmp_path / a)],
                             cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=tool_env()) for a in ("fixture", "fixture2")]
    for proc in runs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stdout + stderr
    rows = nbgrader_export(url, tmp_path)
    got = sorted((r["assignment"], r["student_id"], float(r["raw_score"])) for r in rows)
    assert got == sorted((a, s, float(EXPECTED[s]["score"]))
                         for a in ("fixture", "fixture2") for s in students)


# -- a worker lost mid-run ----------------------------------------------------------------
def _processing(client, prefix: str, timeout: float = 300) -> tuple[str, str]:
    """(worker address, task key) of the first grading task a worker holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            for key in keys:
                if str(key).startswith(prefix):
                    return worker, str(key)
        time.sleep(0.1)
    raise TimeoutError("no grading task ever reached a worker")


def test_killed_worker_loses_nothing_and_grades_nothing_twice(cluster, tmp_path: Path) -> None:
    from distributed import Client

    course = fresh_course(tmp_path)
    submitted = tmp_path / "submitted"
    for student in KILL_SUBSET:
        shutil.copytree(CORPUS / "submitted" / student, submitted / student)
    proc = subprocess.Popen([*L2COURSE, "grade", "fixture", str(submitted), *LIMITS,
                             "--scheduler", cluster.address], cwd=course,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=tool_env())
    try:
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            worker, key = _processing(client, "l2course-fixture-")
            name = client.scheduler_info(n_workers=-1)["workers"][worker]["name"]
            cluster.kill_worker(str(name))  # mid-task: it holds `key`
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stdout + stderr
    rows = summary_rows(stdout)  # each student once
    assert sorted(rows) == sorted(KILL_SUBSET), stdout
    for student in KILL_SUBSET:
        want = EXPECTED[student]
        assert (float(rows[student][1]), rows[student][3]) == (want["score"], want["status"])
    killed = key.split("-")[2:-1]  # l2course-fixture-<student>-<run>
    assert "-".join(killed) in KILL_SUBSET
    progress = [line for line in stderr.splitlines() if line.startswith("grading [")]
    assert len(progress) == len(KILL_SUBSET), stderr  # one result per student, none twice
    with open(course / "reports" / "fixture" / "grades.csv") as fh:
        assert sorted(r["student_id"] for r in csv.DictReader(fh)) == sorted(KILL_SUBSET)
