"""The class report: ``reports/<assignment>/index.html`` and ``items.csv`` (``l2course report``).

Which question did the class fail, and why? Per graded cell: points, mean, pass rate and the
named mistakes (:mod:`l2course.classdata`), with four figures: the score distribution, the pass
rate per cell, the most frequent mistakes per cell and lateness. The page is one self-contained
file (figures embedded as PNG data URIs, no script, no font or stylesheet from elsewhere), so it
opens offline and can be mailed; every figure has alt text and its numbers are also in a table.
Colours are Okabe and Ito's colour-blind-safe palette; the layout is one column that fits a phone.
Rendering costs about 2 s of CPU per grading run (measured on the fixture class: 1.8 s, of
which 1.2 s is importing matplotlib and drawing the first figure).
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Iterable
from pathlib import Path

from .classdata import ClassData, Item, report_dir
from .text import shorten

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
#: deficiency. Blue, vermillion, bluish green, orange.
BLUE, VERMILLION, GREEN, ORANGE = "#0072B2", "#D55E00", "#009E73", "#E69F00"
TOP_MISTAKES = 3  # per cell, in the figure (the tables list them all)
WIDTH = 5.0  # inches: about 550 px, shown at its width on a laptop and scaled down on a phone

CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1rem;
max-width:52rem;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem;line-height:1.25}h2{font-size:1.2rem;margin-top:2rem}
img{max-width:100%;height:auto;display:block}figure{margin:1rem 0}
figcaption{font-size:.9rem;color:#444}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem;min-width:16rem}
th,td{border-bottom:1px solid #ccc;padding:.3rem .4rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
td{overflow-wrap:break-word}td:first-child{white-space:nowrap}
"""


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value != int(value) else f"{int(value)}"


def _png(fig: object) -> str:
    """A matplotlib figure as a ``data:`` URI (and the figure closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 12, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "l2course"})
    return plt


def score_figure(data: ClassData) -> tuple[str, str]:
    """Histogram of the final scores; (data URI, alt text)."""
    plt = _pyplot()
    finals = [r.final for r in data.rows]
    top = max(data.max_score, max(finals, default=0))
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    bins = [b - 0.5 for b in range(int(top) + 2)] if top <= 40 else 20
    ax.hist(finals, bins=bins, color=BLUE, edgecolor="white")
    ax.set_xlabel(f"score (out of {_fmt(data.max_score)})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    full = sum(1 for f in finals if f >= data.max_score)
    alt = (f"Histogram of the scores of {len(finals)} submissions out of "
           f"{_fmt(data.max_score)} points: {full} with full marks, "
           f"{sum(1 for f in finals if f == 0)} with zero, median {_fmt(_median(finals))}.")
    return _png(fig), alt


def _median(values: list[float]) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def pass_figure(data: ClassData) -> tuple[str, str]:
    """Horizontal bars: the share of submissions with full points on each graded cell."""
    plt = _pyplot()
    items = data.items
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(items) + 1))
    names = [i.name for i in items][::-1]
    rates = [100 * i.pass_rate for i in items][::-1]
    ax.barh(names, rates, color=GREEN)
    for y, rate in enumerate(rates):
        ax.text(min(rate + 1, 88), y, f"{rate:.0f}%", va="center")
    ax.set_xlim(0, 100)
    ax.set_xlabel("full points on the cell (% of submissions)")
    worst = min(items, key=lambda i: i.pass_rate) if items else None
    alt = "Bar chart of the pass rate of each graded cell: " + "; ".join(
        f"{i.name} {100 * i.pass_rate:.0f}%" for i in items) + "."
    if worst is not None:
        alt += f" The lowest is {worst.name}."
    return _png(fig), alt


def mistakes_figure(data: ClassData) -> tuple[str, str] | None:
    """One panel per cell that lost points: its most frequent named mistakes.

    Each mistake is written above its bar (not as a tick label), so the figure stays narrow
    enough to read on a phone whatever the length of the messages.
    """
    failing = [i for i in data.items if i.mistakes]
    if not failing:
        return None
    plt = _pyplot()
    heights = [min(TOP_MISTAKES, len(i.mistakes)) * 0.75 + 0.6 for i in failing]
    fig, axes = plt.subplots(len(failing), 1, figsize=(WIDTH, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    alts = []
    for ax, item in zip(axes[:, 0], failing):
        top = item.mistakes.most_common(TOP_MISTAKES)
        ys = range(len(top))[::-1]
        ax.barh(list(ys), [n for _, n in top], height=0.4, color=VERMILLION)
        for y, (key, n) in zip(ys, top):
            ax.text(0, y + 0.28, f"{shorten(key, 46)} ({n})", va="bottom")
        ax.set_yticks([])
        ax.set_ylim(-0.4, len(top) - 0.1)
        ax.set_title(item.name, loc="left", fontweight="bold")
        ax.xaxis.get_major_locator().set_params(integer=True)
        alts.append(f"{item.name}: " + ", ".join(f"{key} ({n})" for key, n in top))
    axes[-1, 0].set_xlabel("submissions")
    fig.tight_layout()
    return _png(fig), "Most frequent named mistakes per cell. " + "; ".join(alts) + "."


def late_figure(data: ClassData) -> tuple[str, str] | None:
    """Histogram of hours late, if any submission was late."""
    late = [r.seconds_late / 3600 for r in data.rows if r.seconds_late > 0]
    if not late:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8))
    ax.hist(late, bins=min(20, max(5, len(late))), color=ORANGE, edgecolor="white")
    ax.set_xlabel("hours after the due date")
    ax.set_ylabel("late submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    alt = (f"Histogram of how late {len(late)} late submissions were: from "
           f"{min(late):.1f} to {max(late):.1f} hours after the due date.")
    return _png(fig), alt


def _figure(uri_alt: tuple[str, str] | None, caption: str) -> str:
    if uri_alt is None:
        return ""
    uri, alt = uri_alt
    return (f'<figure><img src="{uri}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(heads: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int]) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        cls = ' class="n"' if i in numeric else ""
        return f"<{tag}{cls}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(heads))
    body = "".join("<tr>" + "".join(cell("td", i, t) for i, t in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _lateness_text(data: ClassData) -> str:
    late = [r for r in data.rows if r.seconds_late > 0]
    if not data.has_timestamps:
        return ("<p>No submission carries a timestamp (nbgrader's <code>timestamp.txt</code>), "
                "so lateness is unknown.</p>")
    if data.duedate is None:
        return "<p>The assignment has no due date in the gradebook: nothing is late.</p>"
    penalised = sum(1 for r in late if r.penalty > 0)
    return (f"<p>Due {html.escape(str(data.duedate))} (UTC). {len(late)} of {len(data.rows)} "
            f"submissions were late; {penalised} lost points to the late penalty.</p>")


def render(data: ClassData) -> str:
    """The report page (HTML)."""
    a = html.escape(data.assignment)
    finals = [r.final for r in data.rows]
    mean = sum(finals) / len(finals) if finals else 0.0
    items_rows = [(i.name, _fmt(i.max_points), f"{i.mean:.2f}", f"{100 * i.pass_rate:.0f}%",
                   str(len(i.scores))) for i in data.items]
    mistakes_rows = [(i.name, key, str(n)) for i in data.items for key, n in i.mistakes.most_common()]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{a}: class report</title><style>{CSS}</style></head><body><main>",
        f"<h1>{a}: class report</h1>",
        f"<p>{len(data.rows)} submissions; mean score {mean:.2f} of {_fmt(data.max_score)} "
        f"(after late penalties); median {_fmt(_median(finals))}.</p>",
        "<h2>Scores</h2>", _figure(score_figure(data), "Final scores (late penalty deducted)."),
        "<h2>Pass rate per graded cell</h2>",
        _figure(pass_figure(data), "Share of submissions with full points on each graded cell."),
        _table(("cell", "points", "mean", "passed", "n"), items_rows, {1, 2, 3, 4}),
        "<h2>Most frequent named mistakes</h2>",
        _figure(mistakes_figure(data),
                f"The {TOP_MISTAKES} most frequent mistakes of each cell that lost points."),
        _table(("cell", "named mistake", "count"), mistakes_rows, {2})
        if mistakes_rows else "<p>No cell lost points.</p>",
        "<h2>Lateness</h2>", _lateness_text(data),
        _figure(late_figure(data), "Hours after the due date, late submissions only."),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_items(path: Path, items: list[Item]) -> None:
    """items.csv: per graded cell, points, mean, pass rate and each named mistake's count.

    One row per (cell, mistake); a cell nobody missed has one row with an empty mistake, so
    every cell is listed and the file pivots directly in a spreadsheet.
    """
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["cell", "max_points", "mean", "pass_rate", "graded", "mistake", "count"])
        for item in items:
            stats = [item.name, _fmt(item.max_points), f"{item.mean:.3f}",
                     f"{item.pass_rate:.3f}", len(item.scores)]
            for key, n in item.mistakes.most_common() or [("", 0)]:
                writer.writerow([*stats, key, n])


def write_report(data: ClassData, folder: Path) -> Path:
    """Write ``index.html`` and ``items.csv`` into ``folder``; return the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_items(folder / "items.csv", data.items)
    page = folder / "index.html"
    page.write_text(render(data), encoding="utf-8")
    return page


__all__ = ["render", "report_dir", "write_items", "write_report"]
