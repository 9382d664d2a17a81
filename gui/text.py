"""Small text helpers shared by the editor's labels, status lines and undo texts."""

from __future__ import annotations

import re

UNBROKEN_RUN = 200  # characters without a space past which word wrapping costs quadratic time
_UNBROKEN = re.compile(rf"\S{{{UNBROKEN_RUN + 1},}}")


def counted(n: int, word: str) -> str:
    """``n`` and ``word``, plural unless one: "1 layer", "1,234 parameters"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def has_unbroken_run(text: str) -> bool:
    """True when ``text`` holds a run of more than UNBROKEN_RUN characters without white space.
    Qt's word wrapping of such a run takes time that grows with the square of its length (a
    1 MB description with no spaces took 229 s to lay out); wrapping anywhere is linear, so a
    text view switches to it for such texts (regex search: linear too)."""
    return _UNBROKEN.search(text) is not None
