"""The loss over one parameter: loss and gradient, every stationary point labelled, the
basin, the run drawn unwrapped (or modulo the period, broken at the wrap), and the
curvature with the stable-lr bound below. ``landscape --plot`` also draws the 2-D
heatmap (:mod:`gabordiag.viz.landscape2d`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from numpy.typing import NDArray

from ..analysis.landscape import Landscape, LandscapeResult
from ..analysis.stability import Stability, max_stable_lr, ratio_text
from ..core.kernel import period_label
from .captions import relative_to_target
from .landscape2d import landscape_2d_figure
from .layout import ensure_canvas, place_labels
from .runs import equivalents
from .style import (
    ANGULAR,
    STATIONARY_GID,
    TARGET_GID,
    degrees_axis,
    legend_entries,
    point_colour,
    unit,
    wrap_into_period,
)

__all__ = ["landscape_figure", "landscape_plot", "landscape_window", "place_point_labels",
           "plot_curvature", "plot_landscape", "setup_title", "trajectory_path"]

Array = NDArray[np.float64]


def _periodic(land: Landscape) -> bool:
    if land.period is None or len(land.grid) < 2:
        return False
    step = float(land.grid[1] - land.grid[0])
    return abs(float(land.grid[-1]) + step - float(land.grid[0]) - land.period) < 1e-9


def landscape_window(land: Landscape, values: Array | None = None,
                     target: float | None = None) -> tuple[float, float, bool]:
    """The interval a landscape is drawn on, and whether the run (``values``) must be
    drawn modulo the period (``True``) or can be drawn as it ran (``False``).

    Without a run: the sampled period with a margin. With one whose span is at most
    three periods: one period centred on the target-equivalent value nearest the run's
    end, widened to the whole run, so that the run is drawn unwrapped."""
    low, high = float(land.grid[0]), float(land.grid[-1])
    if not _periodic(land):
        if values is not None:
            finite = values[np.isfinite(values)]
            if len(finite):
                low, high = min(low, float(finite.min())), max(high, float(finite.max()))
        return low, high, False
    period = float(land.period)  # type: ignore[arg-type]
    base_low, base_high = low - 0.1 * period, low + 1.1 * period
    if values is None:
        return base_low, base_high, False
    finite = values[np.isfinite(values)]
    if not len(finite) or float(np.ptp(finite)) > 3 * period:
        return base_low, base_high, True
    anchor = target if target is not None else float(land.grid[0]) + period / 2
    centre = anchor + period * round((float(finite[-1]) - anchor) / period)
    low = min(centre - period / 2, float(finite.min()))
    high = max(centre + period / 2, float(finite.max()))
    pad = 0.06 * (high - low)
    return low - pad, high + pad, False


def trajectory_path(values: Array, losses: Array, window: tuple[float, float],
                    wrap_period: float | None, origin: float | None = None
                    ) -> tuple[Array, Array]:
    """The iterates as a drawable path: modulo ``wrap_period`` into ``[origin, origin +
    wrap_period)`` when given (``origin`` defaults to the window's start), and broken
    (NaN) at every wrap and at every jump longer than a quarter of the window, so that
    no drawn segment crosses the plot."""
    low, high = window
    x, y = values, losses
    if wrap_period:
        x, y = wrap_into_period(values, losses, low if origin is None else origin,
                                wrap_period)
    jumps = np.flatnonzero(np.abs(np.diff(x)) > (high - low) / 4) + 1
    return np.insert(x, jumps, np.nan), np.insert(y, jumps, np.nan)


def _tiled(land: Landscape, window: tuple[float, float], values: Array
           ) -> tuple[Array, Array]:
    """Samples of the landscape repeated over the window (a periodic landscape)."""
    if not _periodic(land):
        return land.grid, values
    period = float(land.period)  # type: ignore[arg-type]
    first = float(land.grid[0])
    ks = range(math.floor((window[0] - first) / period) - 1,
               math.ceil((window[1] - first) / period) + 1)
    grid = np.concatenate([land.grid + k * period for k in ks])
    data = np.concatenate([values for _ in ks])
    keep = (grid >= window[0]) & (grid <= window[1])
    return grid[keep], data[keep]


def _point_note(p: Any, value: float, target: float | None, period: float | None) -> str:
    if p.kind != "minimum":
        return ""
    if p.target_equivalent and target is not None:
        relation = relative_to_target(value, target, period, tol=1e-6)
        return f", {relation}" if relation else ", target-equivalent"
    return ", spurious" if not p.target_equivalent else ""


def plot_landscape(ax: Axes, landscape: Landscape, theta0: float | None = None,
                   target: float | None = None,
                   trajectory: tuple[Array, Array] | None = None,
                   window: tuple[float, float, bool] | None = None) -> list[Any]:
    """Loss (left axis) and gradient (right axis) over one parameter: the target and
    its equivalents, theta0, every minimum and maximum (labelled; the labels carry the
    gid ``stationary-label`` and are placed by :func:`place_labels`), the basin of the
    target-equivalent minimum the run ends in (or the target's), the run."""
    land = landscape
    values = None if trajectory is None else trajectory[0]
    low, high, wrapped = window or landscape_window(land, values, target)
    period = land.period if _periodic(land) else None
    grid, loss = _tiled(land, (low, high), land.loss)
    artists: list[Any] = ax.plot(grid, loss, color="C0", lw=1.2, label="loss")
    twin = ax.twinx()
    grid_g, grad = _tiled(land, (low, high), land.grad)
    artists += twin.plot(grid_g, grad, color="C1", lw=0.8, alpha=0.6,
                         label=f"d loss / d {land.param} (right axis)")
    twin.axhline(0.0, color="C1", lw=0.5, alpha=0.4)
    twin.set_ylabel(f"d loss / d {land.param}", color="C1")
    # the basin: of the target-equivalent minimum where the run ends, else the target's
    basin = land.basin
    if basin is not None and basin.lower is not None and basin.upper is not None \
            and target is not None:
        shift = 0.0
        if values is not None and period and not wrapped:
            finite = values[np.isfinite(values)]
            if len(finite):
                shift = period * round((float(finite[-1]) - target) / period)
        relation = relative_to_target(target + shift, target, period) or "target"
        a, b = max(basin.lower + shift, low), min(basin.upper + shift, high)
        if a < b:
            name = "the target's basin" if relation == "target" else f"basin of {relation}"
            artists.append(ax.axvspan(a, b, color="C2", alpha=0.08,
                                      label=f"{name} (between its maxima)"))
    if target is not None:
        for value in equivalents(target, period, low, high):
            relation = relative_to_target(value, target, period) or "target"
            artists.append(ax.axvline(value, color="C2", ls="--", lw=1.0,
                                      label="target and its equivalents" if
                                      relation == "target" or value == equivalents(
                                          target, period, low, high)[0] else None))
            label = ax.annotate(relation, (value, 1.0), xycoords=("data", "axes fraction"),
                                xytext=(2, -10), textcoords="offset points", fontsize="x-small",
                                color="C2")
            label.set_gid(TARGET_GID)
            artists.append(label)
    origin = float(land.grid[0])
    if period and wrapped:
        for edge in (origin, origin + period):
            artists.append(ax.axvline(edge, color="0.5", ls=":", lw=0.8))
    for p in land.stationary_points:
        colour = point_colour(p)
        marker = "v" if p.kind == "minimum" else "^" if p.kind == "maximum" else "o"
        shifts = [0.0]
        if period:
            shifts = [k * period for k in range(math.floor((low - p.value) / period),
                                                 math.ceil((high - p.value) / period) + 1)]
        for s in shifts:
            value = p.value + s
            if not low <= value <= high:
                continue
            artists += ax.plot([value], [p.loss], marker, color=colour, ms=6, zorder=4)
            text = (f"{p.kind[:3]} {value:.3f}"
                    + (f" ({math.degrees(value):.0f}°)" if land.param in ANGULAR else "")
                    + _point_note(p, value, target, period))
            label = ax.annotate(text, (value, p.loss), textcoords="offset points",
                                xytext=(4, 6), fontsize="x-small", color=colour)
            label.set_gid(STATIONARY_GID)
            artists.append(label)
    if theta0 is not None:
        shown = theta0
        if wrapped and period:
            shown = origin + (theta0 - origin) % period
        if low <= shown <= high:
            artists.append(ax.axvline(shown, color="C4", lw=1.0,
                                      label=f"start {land.param}0 = {theta0:.3f}"
                                      + (" (drawn modulo the period)" if shown != theta0
                                         else "")))
    if trajectory is not None:
        artists += _draw_run(ax, trajectory, (low, high), period if wrapped else None,
                             origin)
    axis_label = unit(land.param)
    if period:
        name = period_label(period) or f"{period:.4g}"
        axis_label += (f"; the loss repeats every {name}"
                       + (f"; the run is drawn modulo {name} (dotted: the period's edges)"
                          if wrapped and trajectory is not None else ""))
    ax.set_xlabel(axis_label)
    ax.set_ylabel("loss", color="C0")
    ax.set_xlim(low, high)
    degrees_axis(ax, land.param)
    return artists


def _draw_run(ax: Axes, trajectory: tuple[Array, Array], window: tuple[float, float],
              wrap_period: float | None, origin: float) -> list[Any]:
    """The iterates as points coloured by step; consecutive iterates joined only where
    the step is short (under 2% of the window), so that a jump, a bounce across a
    minimum or a wrap never draws a chord across the plot."""
    low, high = window
    x, y = trajectory_path(trajectory[0], trajectory[1], window, wrap_period, origin)
    short = x.copy()
    long_steps = np.flatnonzero(np.abs(np.diff(x)) > 0.02 * (high - low)) + 1
    short, y_short = np.insert(short, long_steps, np.nan), np.insert(y, long_steps, np.nan)
    artists: list[Any] = ax.plot(short, y_short, "-", color="C3", lw=0.6, alpha=0.6)
    steps = np.cumsum(np.isfinite(x)) - 1
    keep = np.isfinite(x) & np.isfinite(y)
    artists.append(ax.scatter(x[keep], y[keep], s=7, c=steps[keep], cmap="plasma",
                              zorder=3, label="descent, coloured by step"
                              + (" (modulo the period)" if wrap_period else "")))
    first = np.flatnonzero(keep)
    if len(first):
        artists += ax.plot(x[first[-1:]], y[first[-1:]], "s", color="C3", mec="black",
                           ms=6, zorder=5, label=f"end of the run (step {int(steps[-1])})")
    return artists


def plot_curvature(ax: Axes, landscape: Landscape, window: tuple[float, float],
                   stable: Stability | None, lr: float | None, factor: float | None
                   ) -> list[Any]:
    """The loss's curvature over the parameter and the stability bound: plain (or the
    configured momentum) SGD with step ``lr`` overshoots where the curvature exceeds
    ``factor / lr`` (``factor`` = 2 for plain SGD); the facts at the target in words."""
    land = landscape
    grid, curv = _tiled(land, window, land.curvature)
    artists: list[Any] = ax.plot(grid, curv, color="C5", lw=1.0, label="curvature")
    largest = float(np.nanmax(np.abs(curv))) if len(curv) else 1.0
    top = max(0, math.ceil(math.log10(max(largest, 1.0))))
    linthresh = 10.0 ** max(0, top - 3)
    ax.set_yscale("symlog", linthresh=linthresh)
    decades = [10.0 ** e for e in range(max(0, top - 3), top + 1)]
    ax.set_yticks([-d for d in decades[::-1] if d > linthresh] + [0.0]
                  + [d for d in decades if d > linthresh])
    if lr and factor:
        limit = factor / lr
        artists.append(ax.axhline(limit, color="C3", ls="--", lw=1.0,
                                  label=f"{factor:.3g} / lr = {limit:.4g}: above it, lr {lr:g} "
                                  "overshoots"))
        artists.append(ax.fill_between(grid, limit, curv, where=curv > limit, color="C3",
                                       alpha=0.15, interpolate=True))
    if stable is not None:
        if stable.kink_slope is not None:
            text = (f"at the target: a kink ({stable.loss}), one-sided slopes "
                    f"±{stable.kink_slope:.3g}; no lr is stable")
        else:
            c = stable.loss_curvature if stable.loss_curvature is not None \
                else stable.mse_curvature
            bound = stable.bounds.sgd_configured or stable.bounds.sgd
            text = f"curvature at the target {c:.4g}"
            if bound is not None:
                text += f": SGD is stable there for lr < {bound:.3g}"
                if lr:
                    text += f" (lr {lr:g} = {ratio_text(lr / bound)} x that)"
        artists.append(ax.set_title(text, fontsize="small", loc="left"))
    ax.set_xlim(*window)
    ax.set_ylabel("curvature")
    ax.set_xlabel(unit(land.param))
    return artists


def landscape_figure(landscape: Landscape, theta0: float | None, target: float | None,
                     trajectory: tuple[Array, Array] | None, title: str,
                     stable: Stability | None = None, lr: float | None = None,
                     factor: float | None = None) -> Figure:
    """The one-parameter landscape (loss, gradient, stationary points, the run) above its
    curvature with the stable-lr bound; the legend below the axes."""
    fig = Figure(figsize=(10, 6.6), layout="constrained")
    ensure_canvas(fig)
    ax, low_ax = fig.subplots(2, 1, sharex=True, height_ratios=[2.4, 1])
    values = None if trajectory is None else trajectory[0]
    window = landscape_window(landscape, values, target)
    plot_landscape(ax, landscape, theta0, target, trajectory, window)
    ax.tick_params(labelbottom=True)
    plot_curvature(low_ax, landscape, window[:2], stable, lr, factor)
    handles, labels = legend_entries(fig.axes)
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    place_point_labels(fig, ax)
    return fig


def place_point_labels(fig: Figure, ax: Axes) -> None:
    """Move the stationary points' labels off each other, the target labels and the
    legends."""
    labels = [c for c in ax.get_children()
              if isinstance(c, Annotation) and c.get_gid() == STATIONARY_GID]
    fixed = [c for c in ax.get_children()
             if isinstance(c, Annotation) and c.get_gid() == TARGET_GID]
    avoid = [*fixed, *fig.legends]
    place_labels(fig, labels, avoid=avoid, inside=ax)


def landscape_plot(result: LandscapeResult) -> Figure:
    """``landscape --plot``: the 1-D landscape (with the descent, if it was run) or the
    2-D heatmap (with it too)."""
    config = result.config
    if result.landscape_2d is not None:
        return landscape_2d_figure(result.landscape_2d, setup_title(config,
                                                               result.landscape_2d.params),
                                   result.trajectory, config.start.as_dict())
    land = result.landscape
    assert land is not None
    overlay = None
    if result.trajectory is not None:
        t = result.trajectory
        j = t.names.index(land.param)
        overlay = (t.params[:, j], t.loss)
    start = config.start.as_dict()[land.param] if land.param in config.learn else None
    factor = None
    if config.optimizer == "sgd":
        factor = max_stable_lr(1.0, config.momentum, config.dampening,
                               config.nesterov).sgd_configured
    return landscape_figure(land, start, config.target.as_dict()[land.param], overlay,
                            setup_title(config, (land.param,)), land.stability, config.lr,
                            factor)


def setup_title(config: Any, varied: tuple[str, ...]) -> str:
    """The setup, without the values of the parameters the figure varies."""
    fixed = {"sigma": config.sigma, "lambda": config.lambd, "gamma": config.gamma,
             "psi": config.psi}
    parts = [f"{name} {value:g}" for name, value in fixed.items() if name not in varied]
    return (f"{config.loss} loss, {config.image} image, ksize {config.ksize}, "
            + ", ".join(parts))

