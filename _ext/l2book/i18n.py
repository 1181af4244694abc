"""The book in more than one language: Sphinx's i18n, made to work with this book's parts.

A local Sphinx extension, enabled in ``_config.yml``. The English edition is built at
``_build/html``; each translation (``language: ja`` from ``_ext/edition_config.py``) at
``_build/html/<lang>/`` with the same relative paths, from the gettext catalogs
``locales/<lang>/LC_MESSAGES/<page>.po`` (CONTRIBUTING.md, "Translating"). This module:

* **Glue in translated text.** Sphinx re-parses each translated message as a small document of
  its own (``sphinx.transforms.i18n.publish_msgstr``); myst-nb's ``{glue:text}`` / ``{glue}`` /
  ``{glue:md}`` roles look the value up in ``document["nb_renderer"]``, which only the page's
  own document has, and only while it is parsed, so a glued number in a translated paragraph
  rendered empty ("No key ... found in glue data for this document"). The ``glue``/``glue:any``/
  ``glue:text`` roles are registered again over myst-nb's: in a message's document they read
  ``<this page>.ipynb::key``, myst-nb's own cross-page glue reference, which is resolved from the
  glue data myst-nb stored for the page (``<page>.glue.json``). Every glued value in a
  translation is therefore the value the English page shows, with the same formatting code.
  (``{glue:md}`` has no cross-page form; the book does not use it in prose.)
* **Figure alt text.** Sphinx offers an image's ``alt`` to the catalogs, but myst-nb has no mime
  priorities for the gettext builder, so a glued figure was rendered there as its text/plain
  repr (``<Figure size ...>``) and its ``:alt:`` was never extracted. The gettext builder gets
  the HTML builder's priorities: the alt text of every figure is a message like a paragraph.
* **Reader's switcher and alternates.** Every HTML page gets a link to the same page in each
  other edition (``l2book_editions``: language → its name in that language; the first is the
  root edition at ``/``, the others at ``/<lang>/``), ``<link rel="alternate" hreflang=...>``
  for every edition (absolute when ``html.baseurl`` is set) and ``x-default`` for the root one.
  ``<html lang>`` comes from ``language`` (the theme writes it).
* **Interface strings.** The themes ship Japanese for their own strings; this book's own strings
  (the switcher's label, the landing page's note on figures, "full course") are in the
  ``sphinx`` catalog ``locales/<lang>/LC_MESSAGES/sphinx.po``, which Sphinx compiles and prefers
  to its own and the themes' translations.
* **Exercise notebooks.** A translated exercise page's download button gives the notebook in
  that language (``_translated_downloads``; the mechanism is ``l2course.translate``'s).
* **Japanese search.** Index and query split Japanese the same way (``japanese_tokens``).
* **A note on figures.** On a translated edition, the root page gets a note (from ``sphinx.po``)
  saying that the text inside figure images stays English.

Cost: one dict lookup per glue role and per page; no extra pass over the output.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.locale import _ as translate
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
HERE = posixpath.dirname(__file__.replace("\\", "/"))

#: Shown on the root page of every translated edition (translated in sphinx.po).
FIGURE_NOTE = (
    "This edition is a translation of the English course. The text inside figure images "
    "(axis labels, legends, titles) stays in English; captions and alternative texts are "
    "translated."
)
#: The switcher's accessible name (translated in sphinx.po).
SWITCHER_LABEL = "Read this page in another language"


# -- glue inside translated messages ---------------------------------------------------------
def _own_reference(role: Any) -> str | None:
    """``{glue:...}`key``` in a translated message → ``<this page's file>::key`` (or None).

    Only a translated message's document lacks ``nb_renderer``; the page's own glue data was
    written by myst-nb to its ``<page>.glue.json``, which a ``path::key`` reference reads.
    """
    env = getattr(role.document.settings, "env", None)
    if "nb_renderer" in role.document or "::" in role.text or env is None:
        return None
    if not str(env.doc2path(env.docname)).endswith(".ipynb"):
        return None
    return f"{posixpath.basename(str(env.doc2path(env.docname)))}::{role.text}"


def _with_page_glue(role_class: type, formatted: bool) -> type:
    """A glue role class that reads the page's own glue data inside a translated message."""

    class Role(role_class):  # type: ignore[misc, valid-type]
        def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
            text = _own_reference(self)
            if text is not None:
                # glue:text splits "key:format" from the right; its default format is "s"
                self.text = text if not formatted or ":" in self.text else f"{text}:s"
            return super().run()

    Role.__name__ = Role.__qualname__ = f"Translated{role_class.__name__}"
    return Role


def _register_glue_roles(app: Sphinx) -> None:
    from myst_nb.ext.glue.domain import NbGlueDomain
    from myst_nb.ext.glue.roles import PasteRoleAny, PasteTextRole

    fixed = {}
    for name, role in NbGlueDomain.roles.items():
        if isinstance(role, (PasteRoleAny, PasteTextRole)):
            fixed[name] = _with_page_glue(type(role), isinstance(role, PasteTextRole))()
    NbGlueDomain.roles = {**NbGlueDomain.roles, **fixed}


class KeepTranslatedTocRefText(SphinxTransform):
    """A translated ``{tocref}`第{number}章 <02_mechanism>``` keeps its translated text.

    Sphinx copies the attributes of the English message's cross-references onto the translated
    ones (``_NodeUpdater.update_pending_xrefs``), so ``l2book_format`` (see ``l2book_tocnum``)
    came back as "chapter {number}". The link's text child holds the translated format.
    """

    default_priority = 21  # just after sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs: Any) -> None:
        for node in self.document.findall(addnodes.pending_xref):
            if node.get("l2book_format") is not None and node.children:
                node["l2book_format"] = node[0].astext()


# -- editions: switcher, alternates, note ----------------------------------------------------
def language_of(config: Config) -> str:
    return str(config.language or "en")


def root_language(config: Config) -> str:
    return next(iter(config.l2book_editions), "en")


def edition_prefix(config: Config, language: str) -> str:
    """Where an edition lives relative to the site root: ``""`` or ``"ja/"``."""
    return "" if language == root_language(config) else f"{language}/"


def page_links(config: Config, pagename: str, builder_suffix: str) -> list[dict[str, str]]:
    """Every edition's copy of ``pagename``: language, name, href relative to the page, url."""
    here = language_of(config)
    site_root = "../" * pagename.count("/") + ("../" if edition_prefix(config, here) else "")
    base = (config.html_baseurl or "").rstrip("/")
    if base and edition_prefix(config, here):  # this edition's baseurl ends in /<lang>
        base = base[: -len(here)].rstrip("/")
    links = []
    for language, name in config.l2book_editions.items():
        path = f"{edition_prefix(config, language)}{pagename}{builder_suffix}"
        links.append({"language": language, "name": name, "href": site_root + path,
                      "url": f"{base}/{path}" if base else site_root + path,
                      "current": language == here})
    return links


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                  doctree: nodes.document | None) -> None:
    if app.builder.name != "html" or len(app.config.l2book_editions) < 2:
        return
    links = page_links(app.config, pagename, app.builder.out_suffix)
    context["l2book_editions"] = [e for e in links if not e["current"]]
    context["l2book_switcher_label"] = translate(SWITCHER_LABEL)
    alternates = [
        f'<link rel="alternate" hreflang="{e["language"]}" href="{e["url"]}" />' for e in links
    ]
    root = next(e for e in links if e["language"] == root_language(app.config))
    alternates.append(f'<link rel="alternate" hreflang="x-default" href="{root["url"]}" />')
    context["metatags"] = context.get("metatags", "") + "\n" + "\n".join(alternates)


class FigureTextNote(SphinxTransform):
    """On a translated edition's root page, say that text inside figure images stays English."""

    default_priority = 900

    def apply(self, **kwargs: Any) -> None:
        config = self.config
        if language_of(config) == root_language(config) or self.env.docname != config.root_doc:
            return
        section = next(iter(self.document.findall(nodes.section)), None)
        if section is None:
            return
        note = nodes.note("", nodes.paragraph("", translate(FIGURE_NOTE)),
                          classes=["l2book-figure-language"])
        title = next(iter(section.findall(nodes.title)), None)
        section.insert(section.index(title) + 1 if title is not None else 0, note)


# -- Japanese search --------------------------------------------------------------------------
#: Kana, CJK ideographs (and compatibility forms), half-width katakana.
CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff66-\uff9f"
SEGMENTS = re.compile(f"[{CJK}]+|[^{CJK}]+")
SPLITTER_JS = """
function splitQuery(query) {
  // The same tokens as the index (_ext/l2book/i18n.py, SearchJapaneseBigrams).
  const cjk = /^[%(cjk)s]/u;
  const out = [];
  for (const word of query.split(/[^\\p{L}\\p{N}_]+/u)) {
    for (const part of (word.match(/[%(cjk)s]+|[^%(cjk)s]+/gu) || [])) {
      if (!cjk.test(part) || part.length === 1) { out.push(part); continue; }
      for (let i = 0; i + 1 < part.length; i++) out.push(part.slice(i, i + 2));
    }
  }
  return out;
}
""" % {"cjk": CJK.replace("\\", "\\\\")}


def japanese_tokens(text: str) -> list[str]:
    """Words of Latin text (lower case); runs of Japanese as overlapping character pairs.

    Sphinx's Japanese splitter (a TinySegmenter port) indexes words, but the browser has no such
    splitter: it looks up the query "重み減衰" whole, while the index holds "重み" and "減衰", and
    "L2正則化" was indexed as "正" + "則化", so "正則化" missed that page. Pairs of characters
    are what both sides can compute the same way (CJK bigrams, as Lucene's CJK analyser does);
    Sphinx's search requires every token of the query, so a page matches when it holds every
    pair of the query's word.
    """
    tokens: list[str] = []
    for word in re.findall(r"\w+", text):
        for part in SEGMENTS.findall(word):
            if not re.match(f"[{CJK}]", part) or len(part) == 1:
                tokens.append(part.lower())
            else:
                tokens += [part[i:i + 2] for i in range(len(part) - 1)]
    return tokens


def _search_language() -> type:
    from sphinx.search.ja import SearchJapanese

    class SearchJapaneseBigrams(SearchJapanese):
        """Japanese search whose index and query share one tokenizer (``japanese_tokens``)."""

        js_splitter_code = SPLITTER_JS

        def split(self, input: str) -> list[str]:  # noqa: A002 (Sphinx's signature)
            return japanese_tokens(input)

        def word_filter(self, stemmed_word: str) -> bool:
            return bool(stemmed_word) and not stemmed_word.isdigit()

    return SearchJapaneseBigrams


EXERCISE = re.compile(r"exercises/([^/]+)/\1")


def _translated_downloads(app: Sphinx, exception: Exception | None) -> None:
    """A translated exercise page's download button gives the notebook in that language.

    The button links ``_sources/exercises/<a>/<a>.ipynb`` (the English release); in a translated
    edition that file is replaced by ``l2course.translate.release_in``: the same graded cells,
    the page's translated instructions, and the first cell that switches the tests' messages
    to the edition's language. Cost: a few milliseconds per exercise.
    """
    language = language_of(app.config)
    if exception is not None or app.builder.name != "html" or language == root_language(
            app.config):
        return
    from l2course.translate import release_in

    import nbformat

    root = Path(app.srcdir)
    for docname in sorted(app.env.found_docs):
        match = EXERCISE.fullmatch(docname)
        if match is None or not (root / "solutions" / match.group(1)).is_dir():
            continue
        target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(release_in(root, match.group(1), language), target)


def _interface_strings(app: Sphinx, config: Config) -> None:
    """Translate the interface strings the themes leave in English (translated edition only).

    ``sphinx.po`` is Sphinx's own catalog domain, which pydata-sphinx-theme's templates use
    (``_('Color mode')``); sphinx-book-theme looks its strings up in its ``booktheme`` domain,
    whose Japanese catalog lacks a few ("Launch interactive content"): the same ``sphinx.po``,
    compiled into the doctree folder, is added as that domain's fallback. The search box's
    placeholder is a theme option, translated here.
    """
    language = language_of(config)
    if language == root_language(config):
        return
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    compiled = Path(app.doctreedir) / "l2book_locale"
    for folder in config.locale_dirs:
        po = Path(app.srcdir) / folder / language / "LC_MESSAGES" / "sphinx.po"
        if po.is_file():
            mo = compiled / language / "LC_MESSAGES" / "booktheme.mo"
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source))
            app.add_message_catalog("booktheme", str(compiled))
            break
    options = config.html_theme_options
    options["search_bar_text"] = str(translate(options.get("search_bar_text")
                                               or "Search this book..."))


def _configure(app: Sphinx, config: Config) -> None:
    # The gettext builder has no mime priorities in myst-nb, so a glued figure became its
    # text/plain repr there and its ``:alt:`` never reached the catalogs: give it the HTML ones.
    from myst_nb.core.render import base_render_priority

    html = base_render_priority().get("html", {})
    config.nb_mime_priority_overrides = [
        *config.nb_mime_priority_overrides, *(("gettext", m, p) for m, p in html.items())
    ]
    templates = posixpath.join(HERE, "i18n_templates")
    if templates not in config.templates_path:
        config.templates_path.append(templates)
    options = config.html_theme_options
    end = list(options.get("article_header_end") or ["article-header-buttons.html"])
    if "l2book-language.html" not in end:
        options["article_header_end"] = ["l2book-language.html", *end]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("l2book_editions", {"en": "English", "ja": "日本語"}, "html", dict)
    app.connect("config-inited", _configure)
    app.connect("config-inited", _interface_strings)
    _register_glue_roles(app)
    app.add_transform(FigureTextNote)
    app.add_transform(KeepTranslatedTocRefText)
    app.connect("html-page-context", _page_context)
    app.add_search_language(_search_language())
    app.connect("build-finished", _translated_downloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
