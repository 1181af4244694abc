"""The sidebar's fold-outs get a name a screen reader can read.

The theme's sidebar folds sub-pages under a ``<summary>`` with only an icon in it (axe:
"summary-name", serious); each gets an ``aria-label`` naming the section it opens. The theme
builds the sidebar in a template function, so that function is wrapped, once per page context.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

# The sidebar's fold-out: <a class="reference internal" href="...">Title</a><details><summary>
SIDEBAR_SUMMARY = re.compile(
    r'(<a class="[^"]*reference internal[^"]*" href="[^"]*">([^<]*)</a>\s*<details[^>]*>\s*)<summary>'
)


def label_summaries(html: str) -> str:
    """``html`` with an ``aria-label`` on each fold-out's ``<summary>``."""
    from sphinx.locale import _  # the label in the edition's language (locales/*/sphinx.po)

    label = str(_("Show or hide the pages under {section}"))
    return SIDEBAR_SUMMARY.sub(
        lambda m: f'{m.group(1)}<summary aria-label="{label.format(section=m.group(2))}">', html)


def wrap_toctree(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """``html-page-context``: the theme's ``generate_toctree_html`` with labelled summaries."""
    toctree = context.get("generate_toctree_html")
    if callable(toctree) and not getattr(toctree, "_l2book", False):

        def labelled_toctree(*args: Any, **kwargs: Any) -> Any:
            return label_summaries(str(toctree(*args, **kwargs)))  # a str or a BeautifulSoup

        labelled_toctree._l2book = True  # type: ignore[attr-defined]
        context["generate_toctree_html"] = labelled_toctree
