"""Where a wire runs: a smooth curve when it runs forward, not too steep, clear of every node;
else the shortest orthogonal detour around them (rounded corners), so no wire is ever hidden
behind a layer, and a wire back to the next band of a wrapped layout runs along the gap
between the bands instead of diagonally across them.

Pure geometry on scene coordinates: ``route(p1, p2, obstacles)`` takes the output port (p1),
the input port (p2) and the rectangles of the other nodes, and returns the path with the point
where its shape label goes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath

LEAD = 22.0  # straight run out of a port and into one before a detour turns
CLEAR = 12.0  # distance a detour keeps from the nodes it passes
CORNER = 10.0  # radius of a detour's rounded corners
BEND_COST = 40.0  # one bend is worth this much extra length (fewer bends read better)
STEEPEST = 2.0  # a curve may climb at most this much per unit forward; steeper wires turn


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A horizontal-tangent cubic from an output (p1) to an input (p2); its t=0.5 is the
    midpoint. Wires that run backwards get wider handles so they loop instead of folding."""
    dx = p2.x() - p1.x()
    handle = max(40.0, abs(dx) * 0.5) if dx >= 0 else max(80.0, min(-dx, 240.0))
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + handle, p1.y()), QPointF(p2.x() - handle, p2.y()), p2)
    return path


def route(p1: QPointF, p2: QPointF, obstacles: Sequence[QRectF],
          ends: Sequence[QRectF] = ()) -> tuple[QPainterPath, QPointF]:
    """The path of a wire from ``p1`` to ``p2`` that crosses none of ``obstacles`` (the
    other nodes), and where its label goes. ``ends`` (its own nodes' rectangles) are avoided
    by a detour's middle, not by the runs out of and into the ports."""
    grown = [r.adjusted(-CLEAR + 1, -CLEAR + 1, CLEAR - 1, CLEAR - 1) for r in obstacles]
    smooth = curve(p1, p2)
    forward = p2.x() - p1.x()
    gentle = forward >= LEAD and abs(p2.y() - p1.y()) <= STEEPEST * forward
    if gentle and not any(_curve_hits(smooth, r) for r in grown):
        return smooth, (p1 + p2) / 2
    points = _detour(p1, p2, grown, [r.adjusted(-CLEAR + 1, -CLEAR + 1, CLEAR - 1, CLEAR - 1)
                                     for r in ends])
    if points is None:
        return smooth, (p1 + p2) / 2
    return _rounded(points), _label_point(points)


def _curve_hits(path: QPainterPath, rect: QRectF) -> bool:
    if not path.controlPointRect().adjusted(-1, -1, 1, 1).intersects(rect):  # may be flat
        return False
    steps = max(16, int(path.length() / 6))
    return any(rect.contains(path.pointAtPercent(i / steps)) for i in range(steps + 1))


def _segment_hits(a: QPointF, b: QPointF, rect: QRectF) -> bool:
    """Whether the axis-parallel segment a-b passes through the inside of ``rect``."""
    if a.y() == b.y():
        lo, hi = sorted((a.x(), b.x()))
        return rect.top() < a.y() < rect.bottom() and lo < rect.right() and hi > rect.left()
    lo, hi = sorted((a.y(), b.y()))
    return rect.left() < a.x() < rect.right() and lo < rect.bottom() and hi > rect.top()


def _detour(p1: QPointF, p2: QPointF, obstacles: list[QRectF], ends: list[QRectF]
            ) -> list[QPointF] | None:
    """The cheapest clear orthogonal polyline: out of p1 to the right, over to a vertical at
    ``xa``, along a horizontal channel at ``y``, down a vertical at ``xb``, into p2 from the
    left; or, for a forward wire, a Z with one vertical at ``xm``. Costs are summed without
    building paths; only the cheapest candidates are built and checked."""
    x1, x2 = p1.x() + LEAD, p2.x() - LEAD
    xs_out = sorted({x1, *(r.right() + 1 for r in obstacles if r.right() + 1 > x1)})[:5]
    xs_in = sorted({x2, *(r.left() - 1 for r in obstacles if r.left() - 1 < x2)})[-5:]
    ys = {p1.y(), p2.y(), *(r.top() - 1 for r in obstacles), *(r.bottom() + 1 for r in obstacles),
          *(r.top() - 1 for r in ends), *(r.bottom() + 1 for r in ends)}
    candidates: list[tuple[float, tuple[float, ...]]] = []
    for xa, xb, y in itertools.product(xs_out, xs_in, ys):
        length = (abs(xa - p1.x()) + abs(y - p1.y()) + abs(xb - xa) + abs(p2.y() - y)
                  + abs(p2.x() - xb))
        bends = (2 if y != p1.y() else 0) + (2 if y != p2.y() else 0)
        candidates.append((length + BEND_COST * bends, (xa, xb, y)))
    straight = abs(p2.x() - p1.x()) + abs(p2.y() - p1.y())
    for xm in {(x1 + x2) / 2, *(r.right() + 1 for r in obstacles),
               *(r.left() - 1 for r in obstacles)}:
        if x1 <= xm <= x2:  # a forward wire: one vertical between the two ports
            candidates.append((straight + BEND_COST * 2, (xm,)))
    candidates.sort(key=lambda c: c[0])
    for _cost, spec in candidates:
        if len(spec) == 1:
            points = _simplify([p1, QPointF(spec[0], p1.y()), QPointF(spec[0], p2.y()), p2])
        else:
            points = _polyline(p1, p2, *spec)
        if _clear(points, obstacles, ends):
            return points
    return None


def _polyline(p1: QPointF, p2: QPointF, xa: float, xb: float, y: float) -> list[QPointF]:
    return _simplify([p1, QPointF(xa, p1.y()), QPointF(xa, y), QPointF(xb, y),
                      QPointF(xb, p2.y()), p2])


def _simplify(points: list[QPointF]) -> list[QPointF]:
    """Drop repeated points and the middle of three in a line."""
    out: list[QPointF] = []
    for p in points:
        if out and math.isclose(p.x(), out[-1].x()) and math.isclose(p.y(), out[-1].y()):
            continue
        if len(out) >= 2 and ((math.isclose(out[-2].x(), out[-1].x())
                               and math.isclose(out[-1].x(), p.x()))
                              or (math.isclose(out[-2].y(), out[-1].y())
                                  and math.isclose(out[-1].y(), p.y()))):
            out[-1] = p
            continue
        out.append(p)
    return out


def _clear(points: list[QPointF], obstacles: list[QRectF], ends: list[QRectF]) -> bool:
    segments = list(itertools.pairwise(points))
    if any(_segment_hits(a, b, r) for a, b in segments for r in obstacles):
        return False
    middle = segments[1:-1]  # the runs out of and into the ports touch their own nodes
    return not any(_segment_hits(a, b, r) for a, b in middle for r in ends)


def _rounded(points: list[QPointF]) -> QPainterPath:
    """The polyline with its corners rounded (quadratic arcs of up to ``CORNER``)."""
    path = QPainterPath(points[0])
    for before, corner, after in zip(points, points[1:], points[2:], strict=False):
        into = _toward(corner, before, CORNER)
        out_of = _toward(corner, after, CORNER)
        path.lineTo(into)
        path.quadTo(corner, out_of)
    path.lineTo(points[-1])
    return path


def _toward(corner: QPointF, other: QPointF, radius: float) -> QPointF:
    """The point ``radius`` (at most half the segment) from ``corner`` toward ``other``."""
    dx, dy = other.x() - corner.x(), other.y() - corner.y()
    length = math.hypot(dx, dy) or 1.0
    step = min(radius, length / 2)
    return QPointF(corner.x() + dx / length * step, corner.y() + dy / length * step)


def _label_point(points: list[QPointF]) -> QPointF:
    """The middle of the longest horizontal run (where a shape label reads best)."""
    runs = [(abs(b.x() - a.x()), (a + b) / 2) for a, b in itertools.pairwise(points)
            if math.isclose(a.y(), b.y())]
    if not runs:
        return (points[0] + points[-1]) / 2
    return max(runs, key=lambda run: run[0])[1]
