"""The book's Sphinx extension: pages light, private, accessible, numbered from the toc.

Enabled in ``_config.yml`` (``sphinx: local_extensions: l2book: _ext/``). It fixes what the stock
Jupyter Book 1.0.4 / pydata-sphinx-theme 0.17 page gets wrong for this course, one module per fix
(each docstring gives the reason and the measured cost); ``setup`` only wires them:

* ``theme``        override templates (no fontawesome.js, search scripts only where used; the
                   theme's asset digest read from the theme), static files, MathJax unlisted
* ``page_assets``  per page: no thebe, MathJax only where needed, tab script only with tabs
* ``bibliography`` bibliography entries as list items (axe)
* ``sidebar``      the sidebar's fold-outs named (axe)
* ``raw_html``     raw HTML outputs without CDN stylesheets; the shared raw-node walker
* ``responsive``   the book on a phone: responsive CSS, a text readout beside chapter 2's slider
* ``tocnum``       chapter and exercise numbers in prose from the toc (``{tocref}``, ``{tocnum}``)
* ``elsewhere``    in a selection of chapters, left-out pages linked to the full course
* ``i18n``         the other editions (Japanese): glue and ``{tocref}`` in translated text, alt
                   text in the catalogs, the language switcher, hreflang alternates, search
* ``checkserver``  each exercise page says where to check a notebook (the course's server or
                   ``l2course check``)
* ``scan``         after an HTML build, ONE pass over the built pages for the four fixes below:
  ``maths`` (typeset at build time in Node), ``icons`` (Font Awesome rules and fonts trimmed),
  ``purge_css`` (unused CSS rules dropped), ``images`` (palette PNGs)
* ``originals``    Sphinx's copies of the files ``scan`` rewrites, put back before a rebuild (no
                   "will overwrite data" lines)
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from . import bibliography, checkserver, elsewhere, i18n, originals, page_assets, raw_html, responsive, scan, sidebar, theme, tocnum


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", theme.configure)
    app.connect("builder-inited", originals.restore)
    app.add_css_file(responsive.STYLESHEET)
    app.connect("doctree-resolved", responsive.readouts)
    app.connect("html-page-context", responsive.anim_script)
    app.connect("doctree-resolved", raw_html.fix_raw_nodes)
    app.add_js_file("l2book.js", defer="defer")
    # After the other extensions' build-finished steps (priority 500) have written their files.
    app.connect("build-finished", scan.after_html_build, priority=600)
    # After sphinx.ext.mathjax (priority 500) has added its script for the page.
    app.connect("html-page-context", page_assets.trim_page_assets, priority=900)
    app.connect("html-page-context", bibliography.list_items, priority=900)
    app.connect("html-page-context", sidebar.wrap_toctree, priority=900)
    app.connect("html-page-context", theme.add_digest)
    app.add_role("tocnum", tocnum.TocNumRole())
    app.add_role("tocref", tocnum.TocRefRole())
    app.add_post_transform(tocnum.NumberTocRefs)
    app.connect("env-get-outdated", tocnum.reread_when_numbers_change)
    app.connect("env-purge-doc", tocnum.purge)
    app.connect("env-merge-info", tocnum.merge)
    app.add_config_value(elsewhere.CONFIG, {}, "html", types=[dict])
    app.connect("missing-reference", elsewhere.link_to_full_course)
    checkserver.setup(app)
    i18n.setup(app)  # the Japanese edition: glue in translations, switcher, alternates, search
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
