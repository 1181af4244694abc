"""Static checks on the chapter notebooks that nbval alone cannot make.

nbval (strict, run by ``make test`` on every notebook under ``chapters/``) re-executes each
notebook and compares outputs. It silently skips cells stored without outputs, so these tests
check that every notebook is stored fully executed, warning-free and standalone, and that its
prose takes numbers from glued computations and captions its figures.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO, exercise_of
from nbval_figures import GLUED_PNG, describe_png

NOTEBOOKS = sorted((REPO / "chapters").glob("*.ipynb"))
CHAPTERS = [nb for nb in NOTEBOOKS if re.match(r"\d\d_", nb.name)]
GLUE_REF = re.compile(r"\{glue(?::(?:text|any|md|math))?\}`([^`:]+)(?::[^`]*)?`")
GLUE_FIGURE = re.compile(r"```\{glue:figure\}\s+(\S+)")


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def markdown(nb: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def tags(cell: nbformat.NotebookNode) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def glued_names(nb: nbformat.NotebookNode) -> set[str]:
    """Names glued by the stored outputs (myst-nb records them under ``scrapbook``)."""
    names = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                names.add(name)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_fully_executed_in_order(path: Path) -> None:
    """Every code cell ran, once, top to bottom in a fresh kernel: counts are 1, 2, 3, ..."""
    nb = load(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts, f"{path.name} has no code cell"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts}; re-run it top to bottom in a fresh kernel "
        "(jupyter nbconvert --to notebook --execute --inplace)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_warning_or_unexpected_error_output(path: Path) -> None:
    """No stored output went to stderr, and only cells tagged ``raises-exception`` raise."""
    nb = load(path)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            where = f"{path.name} cell {i}: {cell.source[:60]!r}"
            assert not (out.output_type == "stream" and out.name == "stderr"), (
                f"{where} wrote to stderr: {out.text[:300]}"
            )
            if out.output_type == "error":
                assert "raises-exception" in tags(cell), f"{where} raised {out.ename}"


def _imported_modules(source: str) -> set[str]:
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_standalone_imports(path: Path) -> None:
    """A notebook imports only installed, published packages: nothing from this repository."""
    nb = load(path)
    modules = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            modules |= _imported_modules(cell.source)
    assert "l2course" not in modules, f"{path.name} imports the course tooling"
    for name in sorted(modules):
        if name in sys.builtin_module_names:
            continue
        if name in sys.stdlib_module_names:
            continue
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"{path.name} imports {name}, which is not installed"
        origin = Path(spec.origin or next(iter(spec.submodule_search_locations or []), ""))
        inside_repo = REPO in origin.resolve().parents and ".venv" not in origin.parts
        assert not inside_repo, f"{path.name} imports the local module {name} ({origin})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_glue_references_resolve(path: Path) -> None:
    """Every glued name used in the prose was glued by a stored output of the same notebook."""
    nb = load(path)
    text = markdown(nb)
    used = set(GLUE_REF.findall(text)) | set(GLUE_FIGURE.findall(text))
    missing = sorted(used - glued_names(nb))
    assert not missing, f"{path.name} uses glue names never glued: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_glued_figures_decode_and_are_not_blank(path: Path) -> None:
    """Every stored glued figure is a PNG that decodes and shows something.

    nbval compares a fresh figure with the stored one through ``describe_png`` (size, not blank),
    so a stored figure that were itself blank would compare equal to a blank fresh one: this
    test rules that out.
    """
    nb = load(path)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if GLUED_PNG in out.get("data", {}):
                described = describe_png(out["data"][GLUED_PNG])
                assert re.fullmatch(r"<glued PNG \d+x\d+, not blank>", described), (
                    f"{path.name} cell {i}: {described}"
                )


PROSE_NUMBER = re.compile(r"(?<![\w.\-/#])[-−]?\d+(?:[.,]\d+)?\s*(?:%|×|x\b)?")
ALLOWED_CONTEXT = re.compile(
    r"(Python|NumPy|SciPy|scikit-learn|sklearn|Keras|PyTorch|torch|TensorFlow|TF|nbgrader|"
    r"myst-nb|version|v|§|Chapter|chapter|chapters|Section|section|Figure|figure|Table|table|"
    r"Eq\.|equation|C|ICLR|NeurIPS|arXiv|Step|step|et al\.|pp\.|page|L|ℓ|degree)\s*$"
)


def _strip_non_prose(text: str) -> str:
    """Remove code, maths, roles, directive headers/options, labels, links and HTML from markdown."""
    text = re.sub(r"^(`{3,}|:{3,}).*$", "", text, flags=re.M)  # directive fences
    text = re.sub(r"^\s*:[\w-]+:.*$", "", text, flags=re.M)  # directive options
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # MyST roles, incl. glue
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"^\(.*\)=\s*$", "", text, flags=re.M)  # labels
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"<[^>]+>", " ", text)  # HTML tags
    text = re.sub(r"^#+\s.*$", "", text, flags=re.M)  # headings (may carry numbering)
    text = re.sub(r"^\s*(\d+\.|[-*])\s", " ", text, flags=re.M)  # list markers
    text = re.sub(r"\b(C|ex)\d+\b|\bL[12]\b|\bℓ[12]\b|\d{4}[a-z]?\)", " ", text)  # ids, norms, years
    return text


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_prose_numbers_are_glued(path: Path) -> None:
    """The prose of a chapter has at least five glued numbers and no typed decimal results."""
    nb = load(path)
    text = markdown(nb)
    glued = set(GLUE_REF.findall(text))
    assert len(glued) >= 5, f"{path.name} glues only {len(glued)} values into its prose"
    prose = _strip_non_prose(text)
    suspicious = []
    for m in PROSE_NUMBER.finditer(prose):
        token = m.group(0).strip()
        before = prose[max(0, m.start() - 25) : m.start()]
        is_decimal = bool(re.search(r"\d[.,]\d|%|×", token))
        if is_decimal and not ALLOWED_CONTEXT.search(before):
            suspicious.append(f"…{before[-25:]}{token}")
    assert not suspicious, (
        f"{path.name}: numbers typed in prose (glue them from a cell): {suspicious[:10]}"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_figures_have_captions_and_alt_text(path: Path) -> None:
    """At least three figures, each placed with a label, alt text and a caption."""
    text = markdown(load(path))
    blocks = re.findall(r"```\{(?:glue:figure|figure)\}[^\n]*\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3, f"{path.name} places {len(blocks)} captioned figures"
    for block in blocks:
        assert re.search(r"^:alt:\s*\S", block, flags=re.M), f"figure without alt text: {block[:80]}"
        assert re.search(r"^:name:\s*\S", block, flags=re.M), f"figure without label: {block[:80]}"
        caption = re.sub(r"^:[\w-]+:.*$", "", block, flags=re.M).strip()
        assert caption, f"figure without caption: {block[:80]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=ids(CHAPTERS))
def test_lesson_structure(path: Path) -> None:
    """Objectives at the top, a summary and questions at the end, a link to the exercise."""
    nb = load(path)
    text = markdown(nb)
    titles = [ln for ln in text.splitlines() if re.match(r"#\s", ln)]
    assert len(titles) == 1, f"{path.name} must have exactly one '#' title, has {titles}"
    opening = "\n".join(c.source for c in nb.cells[:3] if c.cell_type == "markdown")
    assert re.search(r"learning objectives", opening, flags=re.I), (
        f"{path.name} has no learning objectives at the top"
    )
    assert re.search(r"^(#+|```\{admonition\}).*summary", text, flags=re.I | re.M)
    assert re.search(r"^(#+|```\{admonition\}).*check your understanding", text, flags=re.I | re.M)
    exercise = exercise_of(path)
    assert f"exercises/{exercise}/{exercise}" in text, f"{path.name} does not link {exercise}"
