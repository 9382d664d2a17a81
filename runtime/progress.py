"""How a long analysis reports progress and hears a request to stop.

Attacks, patches and explanations take ``progress(fraction)`` and ``cancel() -> bool``
callbacks, so a worker can draw a progress bar and stop the work early; either may be None.
Cancelling raises :class:`Cancelled`, which unwinds the work from wherever it was.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float], None] | None
Cancel = Callable[[], bool] | None


class Cancelled(Exception):
    """Raised when the caller's ``cancel()`` returned True; the work was abandoned."""


def check_cancel(cancel: Cancel) -> None:
    """Raise :class:`Cancelled` when the caller asked to stop."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def report(progress: Progress, fraction: float) -> None:
    """Tell the caller how far the work is, clamped to 0..1."""
    if progress is not None:
        progress(float(min(1.0, max(0.0, fraction))))
