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


Box = tuple[float, float, float, float]  # left, top, right, bottom
Point = tuple[float, float]


def route(p1: QPointF, p2: QPointF, obstacles: Sequence[QRectF],
          ends: Sequence[QRectF] = ()) -> tuple[QPainterPath, QPointF]:
    """The path of a wire from ``p1`` to ``p2`` that crosses none of ``obstacles`` (the
    other nodes), and where its label goes. ``ends`` (its own nodes' rectangles) are avoided
    by a detour's middle, not by the runs out of and into the ports."""
    grown = [_grow(r) for r in obstacles]
    smooth = curve(p1, p2)
    forward = p2.x() - p1.x()
    gentle = forward >= LEAD and abs(p2.y() - p1.y()) <= STEEPEST * forward
    if gentle and not any(_curve_hits(smooth, QRectF(r[0], r[1], r[2] - r[0], r[3] - r[1]))
                          for r in grown):
        return smooth, (p1 + p2) / 2
    points = _detour((p1.x(), p1.y()), (p2.x(), p2.y()), grown, [_grow(r) for r in ends])
    if points is None:
        return smooth, (p1 + p2) / 2
    return _rounded(points), _label_point(points)


def _grow(rect: QRectF) -> Box:
    """The rectangle with the clearance a detour keeps around it."""
    return (rect.left() - CLEAR + 1, rect.top() - CLEAR + 1, rect.right() + CLEAR - 1,
            rect.bottom() + CLEAR - 1)


def _curve_hits(path: QPainterPath, rect: QRectF) -> bool:
    if not path.controlPointRect().adjusted(-1, -1, 1, 1).intersects(rect):  # may be flat
        return False
    steps = max(16, int(path.length() / 6))
    return any(rect.contains(path.pointAtPercent(i / steps)) for i in range(steps + 1))


def _segment_hits(a: Point, b: Point, box: Box) -> bool:
    """Whether the axis-parallel segment a-b passes through the inside of ``box``."""
    left, top, right, bottom = box
    if a[1] == b[1]:
        lo, hi = (a[0], b[0]) if a[0] < b[0] else (b[0], a[0])
        return top < a[1] < bottom and lo < right and hi > left
    lo, hi = (a[1], b[1]) if a[1] < b[1] else (b[1], a[1])
    return left < a[0] < right and lo < bottom and hi > top


def _detour(p1: Point, p2: Point, obstacles: list[Box], ends: list[Box]) -> list[Point] | None:
    """The cheapest clear orthogonal polyline: out of p1 to the right, over to a vertical at
    ``xa``, along a horizontal channel at ``y``, down a vertical at ``xb``, into p2 from the
    left; or, for a forward wire, a Z with one vertical at ``xm``. Costs are summed without
    building paths; only the cheapest candidates are built and checked."""
    (px1, py1), (px2, py2) = p1, p2
    x1, x2 = px1 + LEAD, px2 - LEAD
    xs_out = sorted({x1, *(r[2] + 1 for r in obstacles if r[2] + 1 > x1)})[:5]
    xs_in = sorted({x2, *(r[0] - 1 for r in obstacles if r[0] - 1 < x2)})[-5:]
    ys = {py1, py2, *(r[1] - 1 for r in obstacles), *(r[3] + 1 for r in obstacles),
          *(r[1] - 1 for r in ends), *(r[3] + 1 for r in ends)}
    candidates: list[tuple[float, tuple[float, ...]]] = []
    for xa, xb, y in itertools.product(xs_out, xs_in, ys):
        length = (abs(xa - px1) + abs(y - py1) + abs(xb - xa) + abs(py2 - y) + abs(px2 - xb))
        bends = (2 if y != py1 else 0) + (2 if y != py2 else 0)
        candidates.append((length + BEND_COST * bends, (xa, xb, y)))
    straight = abs(px2 - px1) + abs(py2 - py1)
    for xm in {(x1 + x2) / 2, *(r[2] + 1 for r in obstacles), *(r[0] - 1 for r in obstacles)}:
        if x1 <= xm <= x2:  # a forward wire: one vertical between the two ports
            candidates.append((straight + BEND_COST * 2, (xm,)))
    candidates.sort(key=lambda c: c[0])
    for _cost, spec in candidates:
        if len(spec) == 1:
            points = _simplify([p1, (spec[0], py1), (spec[0], py2), p2])
        else:
            xa, xb, y = spec
            points = _simplify([p1, (xa, py1), (xa, y), (xb, y), (xb, py2), p2])
        if _clear(points, obstacles, ends):
            return points
    return None


def _simplify(points: list[Point]) -> list[Point]:
    """Drop repeated points and the middle of three in a line."""
    out: list[Point] = []
    for p in points:
        if out and math.isclose(p[0], out[-1][0]) and math.isclose(p[1], out[-1][1]):
            continue
        if len(out) >= 2 and ((math.isclose(out[-2][0], out[-1][0])
                               and math.isclose(out[-1][0], p[0]))
                              or (math.isclose(out[-2][1], out[-1][1])
                                  and math.isclose(out[-1][1], p[1]))):
            out[-1] = p
            continue
        out.append(p)
    return out


def _clear(points: list[Point], obstacles: list[Box], ends: list[Box]) -> bool:
    segments = list(itertools.pairwise(points))
    if any(_segment_hits(a, b, r) for a, b in segments for r in obstacles):
        return False
    middle = segments[1:-1]  # the runs out of and into the ports touch their own nodes
    return not any(_segment_hits(a, b, r) for a, b in middle for r in ends)


def _rounded(points: list[Point]) -> QPainterPath:
    """The polyline with its corners rounded (quadratic arcs of up to ``CORNER``)."""
    path = QPainterPath(QPointF(*points[0]))
    for before, corner, after in zip(points, points[1:], points[2:], strict=False):
        path.lineTo(_toward(corner, before, CORNER))
        path.quadTo(QPointF(*corner), _toward(corner, after, CORNER))
    path.lineTo(QPointF(*points[-1]))
    return path


def _toward(corner: Point, other: Point, radius: float) -> QPointF:
    """The point ``radius`` (at most half the segment) from ``corner`` toward ``other``."""
    dx, dy = other[0] - corner[0], other[1] - corner[1]
    length = math.hypot(dx, dy) or 1.0
    step = min(radius, length / 2)
    return QPointF(corner[0] + dx / length * step, corner[1] + dy / length * step)


def _label_point(points: list[Point]) -> QPointF:
    """The middle of the longest horizontal run (where a shape label reads best)."""
    runs = [(abs(b[0] - a[0]), ((a[0] + b[0]) / 2, a[1])) for a, b in itertools.pairwise(points)
            if math.isclose(a[1], b[1])]
    if not runs:
        return QPointF((points[0][0] + points[-1][0]) / 2, (points[0][1] + points[-1][1]) / 2)
    return QPointF(*max(runs, key=lambda run: run[0])[1])
