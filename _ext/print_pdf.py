"""Print the single-page HTML build of the book to PDF with Debian's Chromium (``make pdf``).

Jupyter Book 1.0.4's ``pdfhtml`` builder is ``singlehtml`` followed by ``page.pdf()`` in Playwright's
*own* Chromium (``p.chromium.launch()`` with no executable), which ``playwright install`` would have
to download; that is not possible offline. This script does the same with ``/usr/bin/chromium``:
serve ``_build/singlehtml`` on 127.0.0.1, wait until MathJax has typeset, and print to PDF.

    python _ext/print_pdf.py [_build/singlehtml] [_build/pdf/book.pdf]
"""

from __future__ import annotations

import functools
import http.server
import re
import sys
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-content, .dropdown-launch-buttons, .search-button, #jb-print-docs-body
  { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main(src: Path, out: Path) -> int:
    index = src / "index.html"
    if not index.exists():
        print(f"no single-page build at {src}", file=sys.stderr)
        return 2
    # index.html only redirects to the root page, which holds the whole book.
    target = re.search(r'url=([^"]+)"', index.read_text(encoding="utf-8"))
    start = target.group(1) if target else "index.html"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(src))
    )
    server.handle_error = lambda request, client_address: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    foreign: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: route.continue_()
                if route.request.url.startswith(("http://127.0.0.1", "data:"))
                else (foreign.append(route.request.url), route.abort())[1],
            )
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/{start}", wait_until="load")
            # Maths typeset at build time (l2book_assets.py) needs no MathJax here, only its fonts.
            if page.evaluate("() => !!document.querySelector('.math') && !!window.MathJax"):
                page.evaluate(
                    "() => { MathJax.startup.promise.then(() => { window.__l2_done = true; }); }"
                )
                page.wait_for_function("() => window.__l2_done", timeout=120_000)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(out), format="A4", print_background=True, outline=True, tagged=True)
            browser.close()
    finally:
        server.shutdown()
    if foreign:
        print(f"warning: blocked requests to other hosts: {sorted(set(foreign))}", file=sys.stderr)
    print(f"PDF: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    src = Path(argv[0]) if argv else Path("_build/singlehtml")
    dst = Path(argv[1]) if len(argv) > 1 else Path("_build/pdf/book.pdf")
    raise SystemExit(main(src, dst))
