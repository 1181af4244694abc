"""Chapter 4, the claims ledger and exercise 4 give the same verdict for every claim of the article.

Three pages state the verdicts on the seed article's claims C1–C12: chapter 4 (a
``**Verdict: …**`` line in each claim's section, and again in the summary's lists), the claims
ledger (a table), and exercise 4 (the instructor's ``verdicts`` dictionary and the hidden tests'
expected answers, for C1–C10). They drifted once; these tests parse all of them and compare claim
by claim, and check that the three pages define the verdict words with the same sentences.
Static: no notebook is executed (< 1 s).
"""

from __future__ import annotations

import ast
import json
import re
import sys

import pytest

from conftest import REPO

CHAPTER = REPO / "chapters" / "04_pros_and_cons.ipynb"
LEDGER = REPO / "chapters" / "claims_ledger.md"
EX04 = REPO / "solutions" / "ex04-claims" / "ex04-claims.ipynb"
RELEASE = REPO / "exercises" / "ex04-claims" / "ex04-claims.ipynb"
CLAIMS = [f"C{i}" for i in range(1, 13)]
GRADED = CLAIMS[:10]  # exercise 4 asks for C1–C10
WORDS = ("true", "misleading", "false", "typo")

# The definitions of the verdict words, word for word on every page that uses them (line breaks
# and Markdown emphasis aside).
DEFINITIONS = (
    "mixes a correct statement with a wrong one, or states a correct fact so that a reader draws a wrong conclusion",
    "wrong as stated: the effect it describes does not exist, or it states as a general rule what holds only in some situations",
)


def cells(path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    s = cell["source"]
    return s if isinstance(s, str) else "".join(s)


def flat(s: str) -> str:
    """Collapse whitespace and drop Markdown emphasis and code marks, for phrase comparisons."""
    return re.sub(r"\s+", " ", re.sub(r"[*`]", "", s))


def word(verdict: str) -> str:
    """The verdict word that starts a verdict ("false (as a rule)" -> "false")."""
    first = verdict.split()[0].lower()
    assert first in WORDS, f"unknown verdict word in {verdict!r}"
    return first


def without_parentheses(s: str) -> str:
    """Drop (possibly nested) parenthesised asides, so that "C4 (… C5 …)" lists only C4."""
    out, depth = [], 0
    for ch in s:
        depth += ch == "("
        if depth == 0:
            out.append(ch)
        depth -= ch == ")" and depth > 0
    return "".join(out)


def chapter_sections() -> dict[str, str]:
    """{claim: full verdict} from the ``**Verdict: …**`` line under each ``(ch4-cN)=`` label."""
    verdicts: dict[str, str] = {}
    current = None
    for cell in cells(CHAPTER):
        if cell["cell_type"] != "markdown":
            continue
        src = text(cell)
        for label in re.findall(r"^\(ch4-(c\d+)\)=", src, re.M):
            current = label.upper()
        m = re.search(r"\*\*Verdict: ([^*]+?)\.?\*\*( \([^)]*\))?", src)
        if m and current:
            assert current not in verdicts, f"two verdicts in chapter 4's section {current}"
            verdicts[current] = (m.group(1) + (m.group(2) or "")).strip()
    return verdicts


def chapter_summary() -> dict[str, str]:
    """{claim: verdict word} from the summary's bullets ``- **True:** C2 (…), C3 (…)``."""
    src = next(text(c) for c in cells(CHAPTER) if "(ch4-summary)=" in text(c))
    summary = src.split("(ch4-summary)=")[1].split("\n## ")[1]
    verdicts: dict[str, str] = {}
    for head, body in re.findall(r"^- \*\*(\w+):\*\* (.*?)(?=^- \*\*|^\S|\Z)", summary, re.M | re.S):
        for cid in re.findall(r"\bC\d+\b", without_parentheses(body)):
            assert cid not in verdicts, f"{cid} listed twice in chapter 4's summary"
            verdicts[cid] = word(head)
    return verdicts


def ledger() -> dict[str, str]:
    """{claim: full verdict} from the ledger's list-table (id, claim, verdict, correction, evidence)."""
    rows = re.findall(r"^\* - (C\d+)\n  - .*\n  - (.*)\n", LEDGER.read_text(encoding="utf-8"), re.M)
    return {cid: verdict.strip() for cid, verdict in rows}


def untranslated(node: ast.AST) -> ast.AST:
    """``node`` with each ``_tr("text")`` call replaced by its text (feedback goes through ``_tr``)."""
    class Unwrap(ast.NodeTransformer):
        def visit_Call(self, call: ast.Call) -> ast.AST:
            if isinstance(call.func, ast.Name) and call.func.id == "_tr" and len(call.args) == 1:
                return self.visit(call.args[0])
            return self.generic_visit(call)

    return Unwrap().visit(node)


def exercise() -> tuple[dict[str, str], dict[str, str]]:
    """The instructor's ``verdicts`` and the hidden tests' expected answers, {claim: word}."""
    solution: dict[str, str] = {}
    expected: dict[str, str] = {}
    for cell in cells(EX04):
        if cell["cell_type"] != "code":
            continue
        src = text(cell)
        if "### BEGIN SOLUTION" in src and "verdicts = {" in src:
            body = src.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            solution = ast.literal_eval(body.split("=", 1)[1].strip())
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_answers":
                for cid, pair in ast.literal_eval(untranslated(node.value)).items():
                    expected[cid] = pair[0]
    return solution, expected


# --------------------------------------------------------------------------------------------


def test_every_page_gives_every_claim_a_verdict():
    solution, expected = exercise()
    assert sorted(chapter_sections(), key=lambda c: int(c[1:])) == CLAIMS
    assert sorted(chapter_summary(), key=lambda c: int(c[1:])) == CLAIMS
    assert sorted(ledger(), key=lambda c: int(c[1:])) == CLAIMS
    assert sorted(solution, key=lambda c: int(c[1:])) == GRADED
    assert sorted(expected, key=lambda c: int(c[1:])) == GRADED


@pytest.mark.parametrize("cid", CLAIMS)
def test_chapter_and_ledger_state_the_same_verdict(cid):
    section, table, summary = chapter_sections()[cid], ledger()[cid], chapter_summary()[cid]
    assert section == table, f"{cid}: chapter 4 says {section!r}, the claims ledger {table!r}"
    assert word(section) == summary, f"{cid}: chapter 4's section says {section!r}, its summary {summary!r}"


@pytest.mark.parametrize("cid", GRADED)
def test_exercise_expects_the_book_verdict(cid):
    solution, expected = exercise()
    book = word(chapter_sections()[cid])
    assert solution[cid] == book, f"{cid}: exercise 4's solution says {solution[cid]!r}, chapter 4 {book!r}"
    assert expected[cid] == book, f"{cid}: exercise 4's hidden test expects {expected[cid]!r}, chapter 4 {book!r}"


@pytest.mark.parametrize("page", [CHAPTER, LEDGER, RELEASE], ids=lambda p: p.name)
def test_pages_define_the_verdict_words_alike(page):
    raw = page.read_text(encoding="utf-8")
    body = "".join(text(c) for c in cells(page)) if page.suffix == ".ipynb" else raw
    for definition in DEFINITIONS:
        assert definition in flat(body), f"{page.name} does not define a verdict word as: {definition!r}"


def test_parsers_see_a_changed_verdict(tmp_path, monkeypatch):
    """The comparison can fail: a ledger that turns C7 into "false" is caught."""
    changed = tmp_path / "claims_ledger.md"
    src = LEDGER.read_text(encoding="utf-8")
    row = re.search(r"^\* - C7\n  - .*\n  - (.*)\n", src, re.M)
    changed.write_text(src[: row.start(1)] + "false" + src[row.end(1) :], encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "LEDGER", changed)
    assert ledger()["C7"] == "false"
    with pytest.raises(AssertionError, match="C7"):
        test_chapter_and_ledger_state_the_same_verdict("C7")
