"""Placing text on a figure without overlap: labels of points, legends outside the data.

Placement needs the figure's final geometry, so :func:`place_labels` draws the figure
once (without rendering pixels) before it measures bounding boxes. Labels are kept out
of the layout engine (``set_in_layout(False)``) so that moving them does not move the
axes they were measured against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

__all__ = ["bbox_of", "ensure_canvas", "overlaps", "place_labels"]

# Offsets (points) tried in turn for a label: beside the point first, then further out.
_OFFSETS = [(4, 6), (4, -12), (-4, 6), (-4, -12), (0, 16), (0, -22)]
_OFFSETS += [(dx, dy) for dy in (28, -34, 40, -46, 52, 64, 76) for dx in (4, -4, 30, -30)]


def ensure_canvas(fig: Figure) -> FigureCanvasAgg:
    """An Agg canvas for ``fig`` (figures are made without pyplot)."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    return canvas


def bbox_of(artist: Any) -> Bbox:
    """An artist's bounding box in display units (the figure must have been drawn)."""
    renderer = ensure_canvas(artist.figure).get_renderer()
    return artist.get_window_extent(renderer)


def overlaps(a: Bbox, b: Bbox, pad: float = 0.0) -> bool:
    """Whether two boxes overlap (by more than ``pad`` display units)."""
    return (a.x0 < b.x1 - pad and b.x0 < a.x1 - pad and a.y0 < b.y1 - pad
            and b.y0 < a.y1 - pad)


def place_labels(fig: Figure, labels: Sequence[Annotation], avoid: Iterable[Any] = (),
                 inside: Any = None) -> None:
    """Move each annotation (``textcoords="offset points"``) to the first offset where
    its box overlaps neither the labels placed before it nor the ``avoid`` artists,
    and lies inside the ``inside`` axes when given. A label that finds no free place
    keeps the offset that overlaps least."""
    ensure_canvas(fig)
    fig.draw_without_rendering()
    blocked = [bbox_of(a) for a in avoid]
    frame = bbox_of(inside) if inside is not None else None
    for label in labels:
        label.set_in_layout(False)
        best, best_cost = None, float("inf")
        for dx, dy in _OFFSETS:
            label.set_position((dx, dy))
            label.set_horizontalalignment("left" if dx >= 0 else "right")
            box = bbox_of(label)
            cost = sum(_area(box, other) for other in blocked)
            if frame is not None:
                cost += _outside(box, frame)
            if cost == 0:
                best = (dx, dy)
                break
            if cost < best_cost:
                best, best_cost = (dx, dy), cost
        assert best is not None
        label.set_position(best)
        label.set_horizontalalignment("left" if best[0] >= 0 else "right")
        blocked.append(bbox_of(label))


def _area(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def _outside(box: Bbox, frame: Bbox) -> float:
    """Area of ``box`` outside ``frame`` (plus one, so any overflow costs)."""
    inside = _area(box, frame)
    total = box.width * box.height
    return 0.0 if total - inside < 1e-6 else 1.0 + total - inside
