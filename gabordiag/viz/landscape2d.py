"""The loss over two parameters as a heatmap (theta on x, a log colour scale when the
loss spans decades), grid minima and maxima, and the run on it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import NDArray

from .layout import ensure_canvas
from .style import ANGULAR, POINT_COLOURS, degrees_axis, unit, wrap_into_period

__all__ = ["landscape_2d_figure", "plot_landscape_2d"]

Array = NDArray[np.float64]


def plot_landscape_2d(ax: Axes, landscape: Any, trajectory: Any = None,
                      fixed: dict[str, float] | None = None) -> list[Any]:
    """The loss over two parameters as a heatmap (theta, when varied, on the x axis; a
    log colour scale when the loss spans decades), grid minima and maxima marked, and
    the run drawn on it when given (a :class:`~gabordiag.descent.runner.Trajectory`; a
    varied parameter it does not learn stays at its value in ``fixed``)."""
    land = landscape
    names = list(land.params)
    x_index = names.index("theta") if "theta" in names else 0
    y_index = 1 - x_index
    loss = land.loss if x_index == 0 else land.loss.T  # rows: x parameter
    xs = land.grid if x_index == 0 else land.grid2
    ys = land.grid2 if x_index == 0 else land.grid
    finite = loss[np.isfinite(loss)]
    positive = finite[finite > 0]
    norm = None
    if len(positive) and positive.max() / max(positive.min(), positive.max() * 1e-12) >= 100:
        norm = LogNorm(vmin=max(float(positive.min()), float(positive.max()) * 1e-8),
                       vmax=float(positive.max()))
    values = np.clip(loss, norm.vmin, None) if norm is not None else loss
    mesh = ax.pcolormesh(xs, ys, values.T, shading="nearest", cmap="viridis", norm=norm)
    artists: list[Any] = [mesh]

    def xy(m: tuple[float, float, float]) -> tuple[float, float]:
        return (m[0], m[1]) if x_index == 0 else (m[1], m[0])

    if land.minima:
        pts = [xy(m) for m in land.minima]
        artists += ax.plot([p[0] for p in pts], [p[1] for p in pts], "v", color="white",
                           mec="black", ms=6, ls="none", label="grid minimum")
    if land.maxima:
        pts = [xy(m) for m in land.maxima]
        artists += ax.plot([p[0] for p in pts], [p[1] for p in pts], "^",
                           color=POINT_COLOURS["maximum"], mec="white", ms=6, ls="none",
                           label="grid maximum")
    if trajectory is not None:
        artists += _trajectory_2d(ax, trajectory, names[x_index], names[y_index], xs, ys,
                                  fixed or {})
    ax.set_xlabel(unit(names[x_index]))
    ax.set_ylabel(unit(names[y_index]))
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
    degrees_axis(ax, names[x_index])
    return artists


def _trajectory_2d(ax: Axes, trajectory: Any, x_name: str, y_name: str, xs: Array,
                   ys: Array, fixed: dict[str, float]) -> list[Any]:
    """The run over the heatmap's two parameters (one not learned stays at its value),
    an angle drawn modulo the heatmap's span when that is a period, broken at wraps."""
    t = trajectory
    n = len(t.loss)

    def column(name: str) -> Array:
        if name in t.names:
            return np.asarray(t.params[:, t.names.index(name)], dtype=float)
        return np.full(n, fixed.get(name, np.nan))

    x, y = column(x_name), column(y_name)
    artists: list[Any] = []
    if np.all(np.isnan(x)) or np.all(np.isnan(y)):
        return artists
    span = float(xs[-1] - xs[0])
    step = float(xs[1] - xs[0]) if len(xs) > 1 else 0.0
    period = span + step
    if x_name in ANGULAR:
        x, y = wrap_into_period(x, y, float(xs[0]), period)
    jumps = np.flatnonzero(np.abs(np.diff(x)) > span / 4) + 1
    x, y = np.insert(x, jumps, np.nan), np.insert(y, jumps, np.nan)
    artists += ax.plot(x, y, "-", color="C3", lw=0.8, label="descent")
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if len(finite):
        artists += ax.plot(x[finite[:1]], y[finite[:1]], "o", color="C1", mec="black",
                           label="start")
        artists += ax.plot(x[finite[-1:]], y[finite[-1:]], "s", color="C3", mec="black",
                           label="end")
    return artists


def landscape_2d_figure(landscape: Any, title: str, trajectory: Any = None,
                        fixed: dict[str, float] | None = None) -> Figure:
    """The two-parameter landscape as a figure with a colour bar, legend below."""
    fig = Figure(figsize=(7.5, 6.2), layout="constrained")
    ensure_canvas(fig)
    ax = fig.subplots()
    mesh = plot_landscape_2d(ax, landscape, trajectory, fixed)[0]
    log = isinstance(mesh.norm, LogNorm)
    fig.colorbar(mesh, ax=ax, label="loss" + (" (log scale)" if log else ""))
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    return fig
