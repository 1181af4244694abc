"""Unit tests of the grader's pure parts (no kernel, no sandbox, no nbgrader run).

The end-to-end behaviour (hostile corpus, real assignments) is proven in ``test_grader.py``;
these pin down the pieces a change is most likely to break, each in milliseconds: limits and the
command line, the bwrap command, submission discovery, metadata restoration, the guard's report,
statuses and reasons.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from l2course.cli import _settings, build_parser
from l2course.course import Course
from l2course.execute import SandboxedExecute
from l2course.guard import UNREADABLE, parse_report
from l2course.models import CellGrade, Limits, Result, Settings, Status, format_size, parse_size
from l2course.report import reason_for, status_for
from l2course.sandbox import STAGE, bwrap_command
from l2course.sanitise import NOTES_HEADING, normalise
from l2course.submissions import SubmissionError, collect, find_submitted_root, unpack
from l2course.worker import grading_policy

# -- limits and the command line -----------------------------------------------------------


@pytest.mark.parametrize("text, size", [("2G", 2 * 1024**3), ("512M", 512 * 1024**2),
                                        ("100k", 102400), ("1MiB", 1024**2), ("1.5K", 1536),
                                        ("4096", 4096)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_format_size_round_trips() -> None:
    for size in (4 * 1024**3, 1024**2, 256 * 1024**2, 1000, 1536):
        assert parse_size(format_size(size)) == size
    assert format_size(4 * 1024**3) == "4G"


def test_every_limit_is_an_option_with_its_default() -> None:
    """Adding a field to Limits adds an option; the help shows the dataclass default."""
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for command in ("grade", "check"):
        text = " ".join(commands.choices[command].format_help().split())
        for name, flag, _, _ in Limits.options():
            assert flag in text
        assert "--disk BYTES size of the kernel's working directory" in text
        assert "(default: 256M)" in text and "(default: 4G)" in text


def _args(*extra: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(["grade", "a", "subs", "--no-sandbox", *extra])


def test_limits_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 7\n")
    course = Course.load(tmp_path)
    settings = _settings(_args("--memory", "2G", "--disk", "64M", "--processes", "9"), course)
    assert settings.limits == Limits(cell_timeout=7, memory=2 * 1024**3, disk=64 * 1024**2,
                                     processes=9)
    assert not settings.sandbox
    explicit = _settings(_args("--cell-timeout", "3"), course)
    assert explicit.limits.cell_timeout == 3  # the command line beats nbgrader_config.py
    assert _settings(_args(), Course.load(tmp_path / "elsewhere")).limits == Limits()


def test_limits_reach_the_executor_whole() -> None:
    """The executor gets the very Limits object (no field re-declared on the way)."""
    from traitlets.config import Config

    limits = Limits(cell_timeout=5, output=1000, processes=12, disk=1024**2)
    config = grading_policy(Config(), Settings(limits, guard=False), uid=0)
    executor = SandboxedExecute(config=config)
    assert executor.limits == limits
    assert not executor.guard
    assert executor.km is None or executor.km.limits == limits


# -- the sandbox's command line --------------------------------------------------------------


def test_bwrap_command_applies_every_limit() -> None:
    limits = Limits(memory=2 * 1024**3, processes=24, disk=64 * 1024**2)
    cmd = bwrap_command(["python", "-m", "ipykernel_launcher"], workdir="/tmp/w/sub",
                        stage="/tmp/w/sub", conn_dir="/tmp/conn", uid=200001, limits=limits)
    assert cmd[:7] == ["prlimit", f"--as={2 * 1024**3}", "--nproc=24", f"--fsize={64 * 1024**2}",
                       "--core=0", "--nofile=1024", "--"]
    joined = " ".join(cmd)
    assert "--unshare-net" in cmd and "--die-with-parent" in cmd
    assert f"--size {64 * 1024**2} --tmpfs /tmp/w/sub" in joined
    assert f"--ro-bind /tmp/w/sub {STAGE}" in joined
    assert "setpriv --reuid=200001 --regid=200001" in joined
    assert "--unshare-user" not in cmd  # root switches uid instead
    assert cmd[-3:] == ["python", "-m", "ipykernel_launcher"]


def test_bwrap_command_unprivileged_uses_a_user_namespace() -> None:
    cmd = bwrap_command(["k"], workdir="/tmp/w", stage="/tmp/w", conn_dir="/tmp/c", uid=0,
                        limits=Limits())
    assert cmd[cmd.index("bwrap") + 1] == "--unshare-user"
    assert "setpriv" not in cmd


# -- the course and submission discovery ------------------------------------------------------


def test_course_reads_nbgrader_config(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.source_directory = "solutions"\n'
        'c.CourseDirectory.course_id = "demo"\nc.CourseDirectory.db_url = "sqlite:///gb.db"\n')
    for name in ("ex02-b", "ex01-a"):
        (tmp_path / "solutions" / name).mkdir(parents=True)
        nbformat.write(new_notebook(), tmp_path / "solutions" / name / f"{name}.ipynb")
    (tmp_path / "solutions" / "notes").mkdir()  # no notebook named after it: not an assignment
    course = Course.find(tmp_path / "solutions" / "ex01-a")
    assert course.root == tmp_path.resolve()
    assert course.assignments() == ["ex01-a", "ex02-b"]
    assert course.course_id == "demo"
    assert course.db_url == f"sqlite:///{tmp_path.resolve() / 'gb.db'}"
    assert course.folder("release") == course.root / "release"  # nbgrader's default
    with pytest.raises(FileNotFoundError, match="no source for 'ex09'"):
        course.source("ex09")


def _release() -> nbformat.NotebookNode:
    answer = new_code_cell("def f():\n    raise NotImplementedError()")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                   "grade_id": "answer", "schema_version": 3}
    test = new_code_cell("assert f() == 1")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2,
                                 "grade_id": "test_f", "schema_version": 3}
    nb = new_notebook(cells=[answer, test])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _submit(root: Path, student: str, nb: nbformat.NotebookNode, name: str = "hw") -> None:
    folder = root / student / "hw"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_submission_discovery(tmp_path: Path) -> None:
    submitted = tmp_path / "export" / "submitted"
    _submit(submitted, "alice", _release())
    _submit(submitted, "bob", _release(), name="my copy")  # renamed: graded as hw
    (submitted / "carol" / "hw").mkdir(parents=True)  # nothing submitted
    (submitted / "carol" / "hw" / "hw.ipynb").write_text("")
    _submit(submitted, "bad name!", _release())
    root = find_submitted_root(tmp_path / "export", "hw")
    assert root == submitted
    subs = {s.student: s for s in collect(root, "hw", {"hw": _release()})}
    assert set(subs) == {"alice", "bob", "carol", "bad_name_"}
    assert subs["alice"].rejected is None and not subs["alice"].notes
    assert subs["bob"].notes == ["notebook submitted as my copy.ipynb; graded as hw.ipynb"]
    assert subs["bob"].notebooks["hw"].cells[0].source.startswith(NOTES_HEADING)
    assert subs["carol"].rejected == "hw.ipynb is an empty file"
    assert subs["bad_name_"].rejected == "invalid student folder name"
    with pytest.raises(SubmissionError, match="expected submitted/<student>/other/"):
        find_submitted_root(tmp_path / "export", "other")


def test_unpack_refuses_an_unsafe_zip(tmp_path: Path) -> None:
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("submitted/a/hw/../../../evil.txt", "x")
    with pytest.raises(SubmissionError, match="unsafe path"):
        unpack(archive, tmp_path / "work")
    (tmp_path / "plain.txt").write_text("no zip")
    with pytest.raises(SubmissionError, match="neither a folder nor a zip"):
        unpack(tmp_path / "plain.txt", tmp_path / "work2")


# -- normalisation (RestoreMetadata) ---------------------------------------------------------


def test_normalise_restores_tampered_metadata() -> None:
    release = _release()
    nb = _release()
    nb.cells[1].metadata["nbgrader"]["grade"] = False  # would crash nbgrader
    nb.cells[1].metadata["nbgrader"]["points"] = 100
    nb.cells[1].source = "pass"
    extra = new_markdown_cell("mine")
    extra.metadata["nbgrader"] = {"grade_id": "answer", "solution": True}  # a duplicate id
    nb.cells.append(extra)
    nb.metadata["kernelspec"] = {"name": "evil"}
    nb, notes = normalise(nb, release)
    assert nb.cells[1].metadata["nbgrader"] == release.cells[1].metadata["nbgrader"]
    assert "nbgrader" not in nb.cells[2].metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert notes == [
        "cell 'test_f': nbgrader metadata altered (grade: False, points: 100); restored",
        "cell 'test_f': read-only cell edited; restored from the source",
        "cell 'answer': duplicate grade_id, nbgrader metadata removed",
    ]


def test_normalise_notes_deleted_and_malformed_cells() -> None:
    nb = _release()
    del nb.cells[1]
    nb.cells[0].metadata["nbgrader"] = "not a dict"
    nb, notes = normalise(nb, _release())
    assert notes == ["malformed nbgrader metadata removed",
                     "cell 'test_f': deleted; restored from the source"]
    untouched, none = normalise(_release(), _release())
    assert none == [] and untouched.cells[0].metadata["nbgrader"]["grade_id"] == "answer"


# -- the integrity guard's report ------------------------------------------------------------


def test_guard_report_needs_the_nonce() -> None:
    said = [new_output("stream", name="stdout", text="hello\nL2GUARD abc numpy.sum\n")]
    assert parse_report(said, "abc") == "numpy.sum"
    assert parse_report([new_output("stream", name="stdout", text="L2GUARD abc \n")],
                        "abc") is None
    assert parse_report(said, "other") == UNREADABLE  # a forged line without the nonce
    assert parse_report([], "abc") == UNREADABLE  # stdout replaced: nothing came back


# -- statuses and reasons --------------------------------------------------------------------


def test_status_is_the_most_serious_event() -> None:
    result = Result("s", events=[{"cell": "a", "kind": "limit", "message": "x"},
                                 {"cell": "b", "kind": "tampered", "message": "y"}])
    assert status_for(result) == Status.TAMPERED == "tampered"
    assert status_for(Result("s")) == Status.GRADED
    assert status_for(Result("s", status=Status.ERROR)) == Status.ERROR


def test_reason_order_and_deduplication() -> None:
    result = Result(
        "s", reason="nbgrader autograde failed: boom",
        events=[{"cell": "a", "kind": "limit", "message": "cell time limit 5 s"}] * 2,
        answer_errors=["answer: OSError: no"],
        cells={"hw": [CellGrade("test_f", 0.0, 2.0, False, "AssertionError: wrong sign\nmore"),
                      CellGrade("test_g", 2.0, 2.0, False, "")]})
    assert reason_for(result, ["a note"]) == (
        "nbgrader autograde failed: boom; a note; limit: cell time limit 5 s; "
        "answer: OSError: no; test_f: AssertionError: wrong sign")


def test_result_survives_the_pipe() -> None:
    from dataclasses import asdict

    result = Result("s", 1.0, 2.0, Status.LIMIT, "r",
                    cells={"hw": [CellGrade("t", 1.0, 2.0, False, "m")]})
    back = Result.from_dict(asdict(result))
    assert back == result and back.status is Status.LIMIT
    assert not back.full_marks and Result("s", 2.0, 2.0).full_marks
