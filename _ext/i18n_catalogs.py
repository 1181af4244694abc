"""Keep the translation catalogs in step with the English book.

  python _ext/i18n_catalogs.py update ja   regenerate the .pot templates from the English pages
                                           and merge them into locales/ja (sphinx-intl; existing
                                           translations are kept, changed ones become fuzzy)
  python _ext/i18n_catalogs.py check ja    list every message that is untranslated, fuzzy, or
                                           stale (the catalogs differ from the English pages)

The templates come from Sphinx's gettext builder run on the English book with the course's own
config and extensions (re-based by ``_ext/edition_config.py``), reading the English build's
jupyter-cache: nothing executes. ``sphinx-intl``'s parallel mode races on mkdir, so it runs with
one job. ``locales/<lang>/LC_MESSAGES/sphinx.po`` holds the book's interface strings (see
``_ext/l2book/i18n.py``) and is checked for completeness only.

Cost (measured on the shared 2-core machine at load ~12): the gettext build of the full book
23 s of CPU (140 s wall), reading the cache; the comparison well under a second.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from edition_config import rebased_config  # noqa: E402

REPO = HERE.parent
BIN = Path(sys.executable).parent
INTERFACE = "sphinx"  # the catalog of the book's interface strings (not a page)


def write_pot(book: Path, out: Path, config: Path | None = None, toc: Path | None = None) -> Path:
    """Run the gettext builder on ``book``; return the folder of its ``.pot`` files."""
    base = config or book / "_config.yml"
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rebased = rebased_config(yaml.safe_load(base.read_text(encoding="utf-8")),
                             base.resolve().parent, out, book.resolve())
    (out / "_config.yml").write_text(yaml.safe_dump(rebased, allow_unicode=True), encoding="utf-8")
    cmd = [str(BIN / "jupyter-book"), "build", str(book), "--builder", "custom",
           "--custom-builder", "gettext", "--config", str(out / "_config.yml"),
           "--path-output", str(out)]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=book)
    if proc.returncode != 0:
        raise RuntimeError(f"gettext build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out / "_build" / "gettext"


def update(book: Path, language: str, pot_dir: Path) -> None:
    """Merge the templates into ``locales/<language>`` (sphinx-intl, one job)."""
    subprocess.run([str(BIN / "sphinx-intl"), "update", "-p", str(pot_dir), "-l", language,
                    "-d", str(book / "locales"), "-j", "1"], check=True, cwd=book)


@dataclass(frozen=True)
class Problem:
    catalog: str
    kind: str  # untranslated | fuzzy | missing (msgid not in catalog) | obsolete | no catalog
    msgid: str

    def __str__(self) -> str:
        text = self.msgid.replace("\n", " ")
        return f"{self.catalog}: {self.kind}: {text[:90]}{'...' if len(text) > 90 else ''}"


def _read(path: Path):  # noqa: ANN202 (babel's Catalog)
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle)


def check(book: Path, language: str, pot_dir: Path | None) -> list[Problem]:
    """Untranslated or fuzzy messages; with ``pot_dir``, catalogs out of step with the pages."""
    locale = book / "locales" / language / "LC_MESSAGES"
    problems: list[Problem] = []
    for po in sorted(locale.rglob("*.po")):
        name = po.relative_to(locale).with_suffix("").as_posix()
        for message in _read(po):
            if not message.id:
                continue
            if message.fuzzy:
                problems.append(Problem(name, "fuzzy", str(message.id)))
            elif not message.string:
                problems.append(Problem(name, "untranslated", str(message.id)))
    if pot_dir is None:
        return problems
    for pot in sorted(pot_dir.rglob("*.pot")):
        name = pot.relative_to(pot_dir).with_suffix("").as_posix()
        po = locale / f"{name}.po"
        if not po.is_file():
            problems.append(Problem(name, "no catalog", "(run: python _ext/i18n_catalogs.py update)"))
            continue
        wanted = {m.id for m in _read(pot) if m.id}
        have = {m.id for m in _read(po) if m.id}
        problems += [Problem(name, "missing", str(m)) for m in sorted(wanted - have)]
        problems += [Problem(name, "obsolete", str(m)) for m in sorted(have - wanted)]
    pages = {p.relative_to(pot_dir).with_suffix("").as_posix() for p in pot_dir.rglob("*.pot")}
    for po in sorted(locale.rglob("*.po")):
        name = po.relative_to(locale).with_suffix("").as_posix()
        if name != INTERFACE and name not in pages:
            problems.append(Problem(name, "obsolete", "(the whole catalog: no such page)"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["update", "check"])
    parser.add_argument("language", help="e.g. ja")
    parser.add_argument("--book", type=Path, default=REPO)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="l2book-pot-") as tmp:
        pot_dir = write_pot(args.book, Path(tmp))
        if args.action == "update":
            update(args.book, args.language, pot_dir)
        problems = check(args.book, args.language, pot_dir)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in locales/{args.language}")
    return 1 if problems and args.action == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
