"""Bibliography entries as list items, so that screen readers get a valid list.

docutils marks bibliography entries ``role="doc-biblioentry"`` (deprecated in DPUB-ARIA 1.1)
inside ``role="list"`` (axe: "aria-required-children", critical); they become ``listitem``.
Cost: one substring test per page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def list_items(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``: ``doc-biblioentry`` roles become ``listitem``."""
    body = context.get("body")
    if isinstance(body, str) and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')
