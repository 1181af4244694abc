"""Print the single-page HTML build of the book to PDF with Debian's Chromium (``make pdf``).

Jupyter Book 1.0.4's ``pdfhtml`` builder is ``singlehtml`` followed by ``page.pdf()`` in Playwright's
*own* Chromium (``p.chromium.launch()`` with no executable), which ``playwright install`` would have
to download; that is not possible offline. This script does the same with ``/usr/bin/chromium``:
serve ``_build/singlehtml`` on 127.0.0.1, wait until MathJax has typeset, and print to PDF.

    python _ext/print_pdf.py [_build/singlehtml] [_build/pdf/book.pdf]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from booktools import launch, serve
from playwright.sync_api import sync_playwright

# Print styles (issue 22): full-width column, wrapped code, no split figures... see the file.
PRINT_CSS = (Path(__file__).resolve().parent / "print_pdf.css").read_text(encoding="utf-8")
# Before printing: open every <details> (a toggled cell or dropdown cannot be clicked on paper),
# mark the external links whose text already shows their address (a URL, a DOI) so that the print
# styles do not repeat it, and mark the code blocks short enough to keep on one page.
PREPARE_JS = """
() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('div.highlight, .cell_output .output').forEach(b => {
    if ((b.textContent.match(/\\n/g) || []).length <= 15) b.classList.add('l2-keep');
  });
  const bare = u => u.replace(/^https?:\\/\\//, '').replace(/^www\\./, '').replace(/\\/$/, '');
  document.querySelectorAll('a.reference.external[href^="http"]').forEach(a => {
    const text = a.textContent.replace(/\\s+/g, '');
    const id = text.replace(/^(doi|arxiv):/i, '');  // "10.1080/..." for https://doi.org/10.1080/...
    const url = bare(decodeURI(a.href));
    if (text.includes(url) || (id.length > 6 && url.endsWith(id))) a.classList.add('l2-url-shown');
  });
}
"""
# Page numbers at the foot of every page (Chromium draws this template in the bottom margin).
FOOTER = (
    '<div style="font-size:7.5pt;width:100%;padding:0 15mm;color:#555;'
    'font-family:DejaVu Sans,sans-serif;display:flex;justify-content:space-between">'
    '<span class="title"></span><span><span class="pageNumber"></span> / '
    '<span class="totalPages"></span></span></div>'
)


def print_page(page: Any, url: str, out: Path) -> None:
    """Load ``url`` in ``page``, wait for maths and fonts, apply the print styles, print to ``out``."""
    page.goto(
        url, wait_until="load",
        timeout=180_000,  # a 2 MB page with ~600 figures and formulas, on a busy machine
    )
    # Maths typeset at build time (_ext/l2book/maths.py) needs no MathJax here, only its fonts.
    if page.evaluate("() => !!document.querySelector('.math') && !!window.MathJax"):
        page.evaluate(
            "() => { MathJax.startup.promise.then(() => { window.__l2_done = true; }); }"
        )
        page.wait_for_function("() => window.__l2_done", timeout=120_000)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.add_style_tag(content=PRINT_CSS)
    page.evaluate(PREPARE_JS)
    page.emulate_media(media="print")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.pdf(
        path=str(out), format="A4", prefer_css_page_size=True, print_background=True,
        outline=True, tagged=True, display_header_footer=True,
        header_template="<span></span>", footer_template=FOOTER,
    )


def main(src: Path, out: Path) -> int:
    index = src / "index.html"
    if not index.exists():
        print(f"no single-page build at {src}", file=sys.stderr)
        return 2
    # index.html only redirects to the root page, which holds the whole book.
    target = re.search(r'url=([^"]+)"', index.read_text(encoding="utf-8"))
    start = target.group(1) if target else "index.html"
    foreign: list[str] = []
    with serve(src) as base, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.route(
            "**/*",
            lambda route: route.continue_()
            if route.request.url.startswith(("http://127.0.0.1", "data:"))
            else (foreign.append(route.request.url), route.abort())[1],
        )
        print_page(page, base + start, out)
        browser.close()
    if foreign:
        print(f"warning: blocked requests to other hosts: {sorted(set(foreign))}", file=sys.stderr)
    print(f"PDF: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    src = Path(argv[0]) if argv else Path("_build/singlehtml")
    dst = Path(argv[1]) if len(argv) > 1 else Path("_build/pdf/book.pdf")
    raise SystemExit(main(src, dst))
