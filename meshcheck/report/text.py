"""Text as people read it in a table: shortened at a word, never mid-word, with a mark that more follows."""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at the last word boundary within ``limit`` characters, ending in "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a boundary not too far back; a single very long word is cut where it must be
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"
