"""Shortening text for tables and CSV cells without cutting a word in two."""

from __future__ import annotations


def shorten(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` characters, else its longest prefix of whole words + "…".

    A single word longer than ``width`` is the only thing ever cut inside a word.
    """
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut and text[width - 1] != " " else cut
    return head.rstrip(" ,;:") + "…"
