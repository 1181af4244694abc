"""Each exercise page says where to check the notebook: the course's server, or ``l2course check``.

An instructor who runs the self-check server (``l2course serve``) names its public URL in
``_config.yml``::

    l2course:
      check_server: https://check.example.org/

(or sets the Sphinx config value ``l2book_check_server``). Every exercise page
(``exercises/<id>/<id>``, found from the document names, never listed by hand) then opens with a
note linking to ``<url>?assignment=<id>``, where the learner uploads the saved notebook and sees
each test's result and message. Without a URL the note gives the ``l2course check`` command,
as the exercise text does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from docutils import nodes
from sphinx.application import Sphinx


def check_server(app: Sphinx) -> str:
    """The server's URL: the config value, else ``l2course: check_server:`` in _config.yml."""
    url = app.config.l2book_check_server
    if not url:
        config = Path(app.srcdir) / "_config.yml"
        if config.is_file():
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
            url = ((data.get("l2course") or {}).get("check_server") or "")
    return str(url or "").strip()


def exercise_of(docname: str) -> str | None:
    """``ex01-penalty`` for ``exercises/ex01-penalty/ex01-penalty``, else None."""
    parts = docname.split("/")
    if len(parts) == 3 and parts[0] == "exercises" and parts[1] == parts[2]:
        return parts[1]
    return None


def _note(exercise: str, url: str) -> nodes.admonition:
    """The note, in the edition's language (its strings are in ``locales/*/LC_MESSAGES/sphinx.po``:
    the note is added after Sphinx has translated the page's own text)."""
    from sphinx.locale import _

    note = nodes.admonition(classes=["tip", "l2book-check"])
    para = nodes.paragraph()
    if url:
        link = f"{url.rstrip('/')}/?assignment={quote(exercise)}"
        note += nodes.title(text=_("Check your work online"))
        para += nodes.Text(_("Save the notebook, then upload it to your course's self-check "
                             "server: "))
        para += nodes.reference(link, link, refuri=link)
        para += nodes.Text(_(". It runs the hidden tests too, in a sandbox, and within seconds "
                             "shows each test's result and message (never the tests' code). "
                             "Nothing is recorded as a grade."))
    else:
        note += nodes.title(text=_("Check your work"))
        para += nodes.Text(_("Save the notebook, then, from a clone of the course, run "))
        para += nodes.literal(text=f"l2course check {exercise}.ipynb")
        para += nodes.Text(_(": it grades your notebook with the hidden tests and prints each "
                             "test's result and message."))
    note += para
    return note


def add_check_note(app: Sphinx, doctree: nodes.document) -> None:
    exercise = exercise_of(app.env.docname)
    if exercise is None:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    at = 1 if section.children and isinstance(section[0], nodes.title) else 0
    section.insert(at, _note(exercise, check_server(app)))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("l2book_check_server", "", "env", types=[str])
    app.connect("doctree-read", add_check_note)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
