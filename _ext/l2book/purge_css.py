"""Stylesheet rules for classes no page uses are dropped (the way PurgeCSS decides).

The theme's stylesheet (Bootstrap 5 + pydata, 0.3 MB), sphinx-design's and myst-nb's are mostly
rules for classes no page uses. After the build (``scan.py`` collects every word of every page and
script), a rule is dropped when one of its class/id names appears nowhere, except for names that
Bootstrap and the theme build at run time (``SAFE_PREFIXES``). Cost: tinycss2 parses ~0.5 MB of CSS.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# Class names that Bootstrap / the theme compose at run time (e.g. "bs-tooltip-" + placement).
SAFE_PREFIXES = (
    "bs-", "show", "fade", "collaps", "tooltip", "dropdown",
    "active", "disabled", "focus", "hiding", "pst-", "bd-", "theme-", "mjx", "MathJax", "sd-tab",
    "search", "highlight", "toggle", "copybtn", "o-tooltip", "scrolled", "sidebar",
)
PURGED_CSS = ("styles/*.css", "*.css")  # under _static; not MathJax's
SELECTOR_NAME = re.compile(r"[.#]((?:\\.|[A-Za-z0-9_-])+)")
PSEUDO = re.compile(r"::?[a-zA-Z-]+(\([^)]*\))?")
WORD = re.compile(r"[A-Za-z0-9_-]+")
# bootstrap.js names every Bootstrap component (modal, toast, carousel...); the classes it really
# adds at run time are in SAFE_PREFIXES, so its words do not count.
IGNORED_SCRIPTS = {"bootstrap.js"}


def _selector_used(selector: str, words: set[str]) -> bool:
    for name in SELECTOR_NAME.findall(PSEUDO.sub("", selector)):
        name = name.replace("\\", "")
        if name not in words and not name.startswith(SAFE_PREFIXES):
            return False
    return True


def _walk(rules: list[Any], words: set[str]) -> list[str]:
    import tinycss2  # nbconvert's dependency (bleach[css])

    out = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [x.strip() for x in tinycss2.serialize(rule.prelude).split(",")]
            kept = [x for x in selectors if _selector_used(x, words)]
            if kept:
                out.append(",".join(kept) + "{" + tinycss2.serialize(rule.content) + "}")
        elif rule.type == "at-rule":
            grouping = rule.lower_at_keyword in {"media", "supports", "layer", "container"}
            if grouping and rule.content is not None:
                inner = _walk(tinycss2.parse_rule_list(rule.content, True, True), words)
                if inner:
                    prelude = tinycss2.serialize(rule.prelude)
                    out.append(f"@{rule.at_keyword}{prelude}{{{''.join(inner)}}}")
            else:
                out.append(rule.serialize())
    return out


def purge_css(css: str, words: set[str]) -> str:
    """Drop the rules whose selectors all name a class or id found in no page or script."""
    import tinycss2

    return "".join(_walk(tinycss2.parse_stylesheet(css, True, True), words))


def purge_static(static: Path, words: set[str]) -> None:
    """Purge the stylesheets under ``static`` (not MathJax's) against ``words``."""
    for pattern in PURGED_CSS:
        for path in sorted(static.glob(pattern)):
            css = path.read_text(encoding="utf-8")
            path.write_text(purge_css(css, words), encoding="utf-8")
