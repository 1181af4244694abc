"""Page weight and speed of the built book, in headless Chromium (issue 7).

For each page of ``_toc.yml`` (plus the search page): bytes the page pulls in from a plain static
server (uncompressed, and as gzip would send them), number of requests, time to the ``load`` event
and time until MathJax has finished typesetting — the median of several cold loads (fresh browser
context, so nothing is cached). Then the book's size on disk. Budget (issue 7): no chapter page over
1.5 MB uncompressed including its figures; every page typeset within 1.5 s.

    python bench/pages.py                 # the learner edition in _build/html (run `make book`)
    python bench/pages.py --html DIR --loads 5 --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "_ext"))
from booktools import launch, load_toc, serve, toc_files  # noqa: E402

BUDGET_BYTES = 1_500_000
BUDGET_TYPESET_S = 1.5


def local_file(html: Path, url: str) -> Path | None:
    path = html / urlparse(url).path.lstrip("/")
    return path if path.is_file() else None


def typeset_seconds(page: Any) -> float | None:
    """Seconds from navigation until the page's maths is on screen (None without maths)."""
    if not page.evaluate("() => !!document.querySelector('.math')"):
        return None
    if not page.evaluate("() => !!window.MathJax"):
        # Typeset at build time (_ext/l2book/maths.py): on screen once the maths fonts are in.
        return page.evaluate("() => document.fonts.ready.then(() => performance.now() / 1000)")
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000
    )
    page.evaluate(
        "() => { MathJax.startup.promise.then(() => { window.__l2_typeset = performance.now(); }); }"
    )
    page.wait_for_function("() => window.__l2_typeset", timeout=30_000)
    return page.evaluate("() => window.__l2_typeset / 1000")


def weigh(html: Path, urls: list[str]) -> dict[str, Any]:
    """Bytes the requested ``urls`` cost, read from the served files (raw, page+figures, gzip)."""
    raw = gz = content = 0
    foreign = []
    for u in urls:
        if urlparse(u).scheme in {"data", "blob"}:
            continue  # inline (already counted in the HTML)
        f = local_file(html, u)
        if f is None:
            foreign.append(u)
            continue
        data = f.read_bytes()
        raw += len(data)
        if not urlparse(u).path.startswith("/_static/"):
            content += len(data)  # the page itself and its figures (not theme, MathJax, fonts)
        gz += len(gzip.compress(data, compresslevel=6))
    return {"bytes": raw, "content": content, "gzip": gz, "requests": len(urls),
            "not_served": foreign}


def measure(browser: Any, html: Path, url: str) -> dict[str, Any]:
    """One cold load: bytes (from the served files), requests, load and typeset times."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(url, wait_until="load", timeout=60_000)
    load_s = page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].loadEventEnd / 1000"
    )
    typeset_s = typeset_seconds(page)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    context.close()
    return {**weigh(html, urls), "load_s": load_s, "typeset_s": typeset_s}


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def median_row(doc: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One page's figures: sizes of the first load, medians of the times."""
    typeset = [r["typeset_s"] for r in runs if r["typeset_s"] is not None]
    first = runs[0]
    return {
        "page": doc,
        **{k: first[k] for k in ("bytes", "content", "gzip", "requests")},
        "load_s": statistics.median(r["load_s"] for r in runs),
        "typeset_s": statistics.median(typeset) if typeset else None,
        "not_served": first["not_served"],
    }


def measure_pages(html: Path, docs: list[str], loads: int) -> list[dict[str, Any]]:
    """``loads`` cold loads of each page, served from ``html`` on 127.0.0.1."""
    with serve(html) as base, sync_playwright() as pw:
        browser = launch(pw)
        measure(browser, html, base + f"{docs[0]}.html")  # warm up the browser process
        rows = [
            median_row(doc, [measure(browser, html, base + f"{doc}.html") for _ in range(loads)])
            for doc in docs
        ]
        browser.close()
    return rows


def report(rows: list[dict[str, Any]], html: Path, loads: int) -> int:
    """Print the table and the book's size; the total for ``--json``."""
    print(f"Median of {loads} cold loads per page in headless Chromium, served from {html}")
    print(f"{'page':44} {'KB raw':>7} {'of which page+figs':>18} {'KB gzip':>8} {'req':>4} "
          f"{'load s':>7} {'maths s':>8}  budget")
    over = 0
    for r in rows:
        typeset = f"{r['typeset_s']:.2f}" if r["typeset_s"] is not None else "-"
        ok = r["bytes"] <= BUDGET_BYTES and (r["typeset_s"] or 0) <= BUDGET_TYPESET_S
        over += not ok
        print(
            f"{r['page']:44} {r['bytes'] / 1000:7.0f} {r['content'] / 1000:18.0f} "
            f"{r['gzip'] / 1000:8.0f} {r['requests']:4d} "
            f"{r['load_s']:7.2f} {typeset:>8}  {'ok' if ok else 'OVER'}"
        )
        if r["not_served"]:
            print(f"    not from the local server: {r['not_served']}")
    total = du(html)
    print(f"Book on disk: {total / 1e6:.1f} MB ({html})")
    static = html / "_static"
    if static.exists():
        print(f"  of which _static: {du(static) / 1e6:.1f} MB")
    print(f"Budget: <= {BUDGET_BYTES / 1e6:.1f} MB uncompressed per page, maths typeset <= "
          f"{BUDGET_TYPESET_S} s: {len(rows) - over}/{len(rows)} pages within")
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--html", type=Path, default=REPO / "_build" / "html")
    ap.add_argument("--toc", type=Path, default=REPO / "_toc.yml")
    ap.add_argument("--loads", type=int, default=5, help="cold loads per page (median)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ns = ap.parse_args()
    html = ns.html.resolve()
    if not (html / "index.html").exists():
        print(f"no book at {html}: run `make book` first", file=sys.stderr)
        return 2
    docs = [d for d in toc_files(load_toc(ns.toc)) if (html / f"{d}.html").exists()] + ["search"]
    rows = measure_pages(html, docs, ns.loads)
    total = report(rows, html, ns.loads)
    if ns.json:
        ns.json.write_text(json.dumps({"pages": rows, "disk_bytes": total}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
