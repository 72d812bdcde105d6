"""The loss over a grid of two parameters (a heatmap), with the grid's local extrema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import LimitError
from .plain import floats
from .study import Study

__all__ = ["Landscape2D", "compute_landscape_2d"]

Array = NDArray[np.float64]
MAX_POINTS = 200_000
Extremum = tuple[float, float, float]


@dataclass
class Landscape2D:
    """The loss over two parameters on a grid, with the grid's local extrema
    ``(value, value2, loss)``."""

    params: tuple[str, str]
    grid: Array
    grid2: Array
    loss: Array               # (len(grid), len(grid2))
    minima: list[Extremum]
    maxima: list[Extremum]

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields of a two-parameter landscape."""
        return {"params": list(self.params), "grid": floats(self.grid),
                "grid2": floats(self.grid2), "loss": [floats(row) for row in self.loss],
                "grid_minima": [list(m) for m in self.minima],
                "grid_maxima": [list(m) for m in self.maxima]}

    def to_csv(self) -> str:
        """The grid in long form: value, value2, loss."""
        rows = [f"{self.params[0]},{self.params[1]},loss"]
        for i, a in enumerate(self.grid):
            for k, b in enumerate(self.grid2):
                rows.append(f"{a!r},{b!r},{float(self.loss[i, k])!r}")
        return "\n".join(rows) + "\n"


def compute_landscape_2d(study: Study, params: tuple[str, str],
                         spans: tuple[tuple[float, float] | None,
                                      tuple[float, float] | None] = (None, None),
                         points: int = 121) -> Landscape2D:
    """The loss over a ``points x points`` grid of two parameters (others at the
    target's values).

    Local minima and maxima are the grid points lower (higher) than their eight
    neighbours; the grid wraps around where a span is one full period.
    """
    n1 = n2 = points
    if n1 * n2 > MAX_POINTS or points < 8:
        raise LimitError(f"--points: a {n1}x{n2} grid is outside 8..{MAX_POINTS} points in "
                         "all; use fewer points")
    engine = study.engine(learn=params, evaluations=n1 * n2)
    problem = engine.problem
    axes, wraps = [], []
    for name, span in zip(params, spans):
        low, high = span if span is not None else problem.default_span(name)
        period, _ = problem.period_of(name)
        periodic = period is not None and abs((high - low) - period) < 1e-12
        axes.append(np.linspace(low, high, points, endpoint=not periodic))
        wraps.append(periodic)
    probes = np.repeat(problem.target_vector()[None, :], n1 * n2, axis=0)
    g1, g2 = np.meshgrid(axes[0], axes[1], indexing="ij")
    probes[:, 0], probes[:, 1] = g1.ravel(), g2.ravel()
    loss = engine.loss(probes).reshape(n1, n2)
    minima, maxima = _grid_extrema(loss, axes[0], axes[1], wraps)
    return Landscape2D(params=params, grid=axes[0], grid2=axes[1], loss=loss,
                       minima=minima, maxima=maxima)


def _grid_extrema(loss: Array, a: Array, b: Array, wraps: list[bool]
                  ) -> tuple[list[Extremum], list[Extremum]]:
    rows = np.pad(loss, ((1, 1), (0, 0)), mode="wrap" if wraps[0] else "edge")
    padded = np.pad(rows, ((0, 0), (1, 1)), mode="wrap" if wraps[1] else "edge")
    neighbours = [padded[1 + di:1 + di + loss.shape[0], 1 + dj:1 + dj + loss.shape[1]]
                  for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
    lower = np.all([loss < n for n in neighbours], axis=0)
    higher = np.all([loss > n for n in neighbours], axis=0)
    minima = [(float(a[i]), float(b[k]), float(loss[i, k])) for i, k in zip(*np.nonzero(lower))]
    maxima = [(float(a[i]), float(b[k]), float(loss[i, k])) for i, k in zip(*np.nonzero(higher))]
    return minima, maxima
