"""Small text helpers shared by the editor's labels, status lines and undo texts."""

from __future__ import annotations


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless one: "1 layer", "1,234 parameters"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
