"""Matplotlib figures. Plot functions take an ``Axes`` and return the artists;
``*_figure`` and ``*_plot`` functions assemble a ``Figure`` (no pyplot, no global state).

Every word a figure prints is derived from the result it draws (see
:mod:`gabordiag.viz.captions`). Labels of points are placed without overlap
(:mod:`gabordiag.viz.layout`) and legends sit outside the data.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from numpy.typing import NDArray

from ..analysis.landscape import Landscape, LandscapeResult
from ..analysis.recover import RecoverResult
from ..analysis.stability import Stability, max_stable_lr
from ..core.kernel import period_label
from ..io import write_atomic
from .captions import angle_name, relative_to_target
from .layout import ensure_canvas, place_labels
from .mechanism import plot_mechanism

__all__ = [
    "OUTCOME_COLOURS",
    "basins_figure",
    "diagnosis_figure",
    "gradcheck_figure",
    "kernel_figure",
    "kernels_plot",
    "landscape_2d_figure",
    "landscape_figure",
    "landscape_plot",
    "landscape_window",
    "plot_curvature",
    "plot_kernel",
    "plot_landscape",
    "plot_landscape_2d",
    "plot_loss_over_steps",
    "plot_outcome_bars",
    "plot_outcome_map",
    "plot_param_over_steps",
    "png_bytes",
    "recover_figure",
    "recover_plot",
    "remedies_figure",
    "save_figure",
    "trajectory_path",
    "wrap_into_period",
]

Array = NDArray[np.float64]
ANGULAR = ("theta", "psi")
STATIONARY_GID = "stationary-label"
TARGET_GID = "target-label"

OUTCOME_COLOURS = {"converged": "#1a9850", "converged-equivalent": "#91cf60",
                   "local-minimum": "#fdae61", "cycling": "#d73027", "stalled": "#fee08b",
                   "diverged": "#4d4d4d", "not-converged": "#abd9e9"}
# Markers of stationary points: none shares a colour with an outcome it could be
# mistaken for (a maximum is not "cycling").
POINT_COLOURS = {"target": "#1a9850", "spurious": "#e08214", "maximum": "#542788",
                 "inflection": "0.4"}


def _unit(name: str) -> str:
    return f"{name} (rad)" if name in ANGULAR else name


def _degrees_axis(ax: Axes, name: str) -> Any:
    """A secondary axis in degrees on top (angles only)."""
    if name not in ANGULAR:
        return None
    top = ax.secondary_xaxis("top", functions=(np.degrees, np.radians))
    top.set_xlabel(f"{name} (degrees)", fontsize="small")
    return top


def _subfigures(fig: Figure, rows: int, ratios: list[float]) -> list[Any]:
    """``rows`` subfigures stacked, as a list."""
    return list(np.ravel(np.asarray(fig.subfigures(rows, 1, height_ratios=ratios),
                                    dtype=object)))


# -- over the steps --------------------------------------------------------------------

def plot_loss_over_steps(ax: Axes, loss: Array) -> list[Any]:
    """Loss per step on a log axis (linear when any loss is <= 0)."""
    steps = np.arange(len(loss))
    artists = ax.plot(steps, loss, lw=1.0, color="C0")
    if np.all(loss[np.isfinite(loss)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    return artists


def _equivalents(target: float, period: float | None, low: float, high: float
                 ) -> list[float]:
    if not period:
        return [target] if low <= target <= high else []
    k_low = math.ceil((low - target) / period)
    k_high = math.floor((high - target) / period)
    if k_high - k_low > 50:  # a divergence spans too many periods to draw each
        return []
    return [target + k * period for k in range(k_low, k_high + 1)]


def plot_param_over_steps(ax: Axes, values: Array, name: str, target: float,
                          period: float | None, steps: NDArray[Any] | None = None
                          ) -> list[Any]:
    """A parameter per step, zoomed on the run's own range, with each target-equivalent
    value inside it drawn and labelled (``target``, ``target - pi`` ...)."""
    xs = np.arange(len(values)) if steps is None else steps
    artists: list[Any] = ax.plot(xs, values, lw=1.0, color="C1", label=name)
    finite = values[np.isfinite(values)]
    if len(finite):
        low, high = float(finite.min()), float(finite.max())
        pad = 0.08 * (high - low) or 0.01
        ax.set_ylim(low - pad, high + pad)
        for value in _equivalents(target, period if name == "theta" else None,
                                  low - pad, high + pad):
            relation = relative_to_target(value, target, period) or "target"
            artists.append(ax.axhline(value, color="C2", ls="--", lw=0.8))
            label = ax.annotate(f"{relation} = {angle_name(value)}", (1.0, value),
                                xycoords=("axes fraction", "data"), xytext=(-3, 2),
                                textcoords="offset points", ha="right", va="bottom",
                                fontsize="x-small", color="C2")
            label.set_gid(TARGET_GID)
            artists.append(label)
    ax.set_xlabel("step")
    ax.set_ylabel(_unit(name))
    return artists


def recover_figure(result: RecoverResult, stable: Stability | None = None) -> Figure:
    """``recover --plot``: the run over the steps (loss, each parameter, the tail of theta
    zoomed), and under it the mechanism (return map and the loss around the minimum)."""
    t = result.trajectory
    config = result.config
    names = list(t.names)
    with_theta = "theta" in names and np.isfinite(t.params[:, names.index("theta")]).sum() > 2
    top_panels = 1 + len(names) + (1 if with_theta else 0)
    width = max(11.0, 3.4 * top_panels)
    fig = Figure(figsize=(width, 8.6 if with_theta else 3.4), layout="constrained")
    ensure_canvas(fig)
    if with_theta:
        upper, lower = _subfigures(fig, 2, [1, 1.35])
    else:
        upper, lower = fig, None
    axes = np.atleast_1d(upper.subplots(1, top_panels))
    plot_loss_over_steps(axes[0], t.loss)
    axes[0].set_title("loss over the steps", fontsize="small")
    target = config.target.as_dict()
    for ax, (j, name) in zip(axes[1:], enumerate(names)):
        plot_param_over_steps(ax, t.params[:, j], name, target[name], result.period)
        ax.set_title(f"{name} over the steps", fontsize="small")
    if with_theta:
        j = names.index("theta")
        tail = int(result.verdict.evidence.get("tail_steps") or min(60, t.n_steps))
        first = max(0, t.n_steps - tail)
        steps = np.arange(first, t.n_steps + 1)
        plot_param_over_steps(axes[-1], t.params[first:, j], "theta", target["theta"],
                              result.period, steps=steps)
        axes[-1].set_title(f"theta over the last {t.n_steps - first} steps (zoom)",
                           fontsize="small")
        assert lower is not None
        plot_mechanism(lower, result, stable)
    fig.suptitle(f"{result.verdict.kind}: {config.loss}, {config.optimizer} lr={config.lr:g}"
                 + (f", momentum {config.momentum:g}" if config.momentum else ""),
                 fontsize="medium")
    return fig


# -- the landscape ---------------------------------------------------------------------

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


def wrap_into_period(values: Array, losses: Array, first: float, period: float | None
                     ) -> tuple[Array, Array]:
    """Iterates mapped into ``[first, first + period)`` for drawing on one period of the
    landscape, with a break (NaN) wherever an iterate wraps around."""
    if period is None:
        return values, losses
    wrapped = first + (values - first) % period
    breaks = np.flatnonzero(np.abs(np.diff(wrapped)) > period / 2) + 1
    return np.insert(wrapped, breaks, np.nan), np.insert(losses, breaks, np.nan)


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
        for value in _equivalents(target, period, low, high):
            relation = relative_to_target(value, target, period) or "target"
            artists.append(ax.axvline(value, color="C2", ls="--", lw=1.0,
                                      label="target and its equivalents" if
                                      relation == "target" or value == _equivalents(
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
        colour = (POINT_COLOURS["target"] if p.target_equivalent else
                  POINT_COLOURS["spurious"] if p.kind == "minimum" else
                  POINT_COLOURS.get(p.kind, "0.4"))
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
    axis_label = _unit(land.param)
    if period:
        name = period_label(period) or f"{period:.4g}"
        axis_label += (f"; the loss repeats every {name}"
                       + (f"; the run is drawn modulo {name} (dotted: the period's edges)"
                          if wrapped and trajectory is not None else ""))
    ax.set_xlabel(axis_label)
    ax.set_ylabel("loss", color="C0")
    ax.set_xlim(low, high)
    _degrees_axis(ax, land.param)
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
                    text += f" (lr {lr:g} = {lr / bound:.3g} x that)"
        artists.append(ax.set_title(text, fontsize="small", loc="left"))
    ax.set_xlim(*window)
    ax.set_ylabel("curvature")
    ax.set_xlabel(_unit(land.param))
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
    handles, labels = [], []
    for a in fig.axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize="x-small")
    fig.suptitle(title, fontsize="medium")
    _place(fig, ax)
    return fig


def _place(fig: Figure, ax: Axes) -> None:
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
        return landscape_2d_figure(result.landscape_2d, _title(config,
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
                            _title(config, (land.param,)), land.stability, config.lr,
                            factor)


def _title(config: Any, varied: tuple[str, ...]) -> str:
    """The setup, without the values of the parameters the figure varies."""
    fixed = {"sigma": config.sigma, "lambda": config.lambd, "gamma": config.gamma,
             "psi": config.psi}
    parts = [f"{name} {value:g}" for name, value in fixed.items() if name not in varied]
    return (f"{config.loss} loss, {config.image} image, ksize {config.ksize}, "
            + ", ".join(parts))


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
    ax.set_xlabel(_unit(names[x_index]))
    ax.set_ylabel(_unit(names[y_index]))
    ax.set_xlim(float(xs[0]), float(xs[-1]))
    ax.set_ylim(float(ys[0]), float(ys[-1]))
    _degrees_axis(ax, names[x_index])
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


# -- kernels ---------------------------------------------------------------------------

def plot_kernel(ax: Axes, kernel: Array, title: str) -> Any:
    """A kernel as an image with a symmetric diverging colour scale."""
    limit = float(np.abs(kernel).max()) or 1.0
    image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")
    ax.set_title(title, fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def kernel_figure(kernels: dict[str, Array], titles: dict[str, str] | None = None,
                  title: str | None = None) -> Figure:
    """One panel per kernel (name -> array), each with its own colour bar; ``titles``
    gives each panel's title (default: its name)."""
    n = len(kernels)
    fig = Figure(figsize=(2.9 * n, 3.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (name, kernel) in zip(axes, kernels.items()):
        image = plot_kernel(ax, kernel, (titles or {}).get(name, name))
        fig.colorbar(image, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


def _params_text(values: dict[str, float], names: tuple[str, ...] | list[str]) -> str:
    parts = []
    for name in names:
        v = values[name]
        parts.append(f"{name} {v:.3f} ({math.degrees(v):.0f}°)" if name in ANGULAR and v
                     else f"{name} {v:g}")
    return ", ".join(parts)


def kernels_plot(result: Any) -> Figure:
    """``kernel --plot``: target, start and each derivative, titled with the parameters
    they are computed at."""
    config = result.config
    target, start = config.target.as_dict(), config.start.as_dict()
    others = [n for n in ("sigma", "lambda", "gamma", "psi") if n not in config.learn]
    titles = {"target": f"target\n{_params_text(target, ['theta', *config.learn[1:]])}",
              "start": f"start\n{_params_text(start, list(config.learn))}"}
    for name in config.learn:
        titles[f"d/d{name}"] = f"d kernel / d {name}\nat {_params_text(start, [name])}"
    k = config.ksize
    title = (f"{k}x{k} kernels, {_params_text(target, others)}; {result.source}")
    return kernel_figure(result.kernels, titles, title)


# -- basins ----------------------------------------------------------------------------

def plot_outcome_map(ax: Axes, starts: Array, labels: list[str],
                     outcomes: list[list[str]]) -> list[Any]:
    """Start x case grid coloured by verdict kind (the legend is the figure's)."""
    from matplotlib.colors import ListedColormap

    kinds = list(OUTCOME_COLOURS)
    codes = np.array([[kinds.index(kind) for kind in row] for row in outcomes])
    step = float(starts[1] - starts[0]) if len(starts) > 1 else 1.0
    extent = (float(starts[0]) - step / 2, float(starts[-1]) + step / 2, len(labels) - 0.5,
              -0.5)
    image = ax.imshow(codes, aspect="auto", interpolation="nearest", extent=extent,
                      cmap=ListedColormap(list(OUTCOME_COLOURS.values())), vmin=-0.5,
                      vmax=len(kinds) - 0.5)
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.set_xlabel("starting theta (rad)")
    return [image]


def basins_figure(result: Any, landscapes: Landscape | dict[str, Landscape]) -> Figure:
    """The loss over theta of each compared loss above the map of outcomes, on a shared
    theta axis; the outcome legend below the figure."""
    from matplotlib.patches import Patch

    if isinstance(landscapes, Landscape):
        landscapes = {result.config.loss: landscapes}
    labels = [f"{c.loss} {c.optimizer} lr={c.lr:g}" for c in result.cases]
    tops = len(landscapes)
    ratios = [1.6] * tops + [max(1.0, 0.35 * len(labels))]
    fig = Figure(figsize=(9, 1.9 * tops + 0.35 * len(labels) + 2.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(tops + 1, 1, sharex=True,
                                      gridspec_kw={"height_ratios": ratios}))
    starts = np.asarray(result.starts)
    for ax, (loss, land) in zip(axes[:-1], landscapes.items()):
        period = land.period or float(starts[-1] - starts[0])
        first = float(starts[0])
        grid = first + (land.grid - first) % period
        order = np.argsort(grid)
        ax.plot(grid[order], land.loss[order], color="C0", lw=1.2)
        for p in land.stationary_points:
            x = first + (p.value - first) % period
            colour = (POINT_COLOURS["target"] if p.target_equivalent else
                      POINT_COLOURS["spurious"] if p.kind == "minimum" else
                      POINT_COLOURS.get(p.kind, "0.4"))
            ax.plot([x], [p.loss], "v" if p.kind == "minimum" else "^", color=colour, ms=6)
        ax.set_ylabel(f"{loss} loss")
        ax.set_title(f"{loss} loss over theta (the basins below line up with it)",
                     fontsize="small")
    plot_outcome_map(axes[-1], starts, labels, [c.kinds for c in result.cases])
    kinds = list(OUTCOME_COLOURS)
    present = sorted({kind for c in result.cases for kind in c.kinds}, key=kinds.index)
    handles = [Patch(color=OUTCOME_COLOURS[k], label=k) for k in present]
    handles += [axes[0].plot([], [], "v", color=POINT_COLOURS["target"],
                             label="target-equivalent minimum")[0],
                axes[0].plot([], [], "v", color=POINT_COLOURS["spurious"],
                             label="spurious minimum")[0],
                axes[0].plot([], [], "^", color=POINT_COLOURS["maximum"], label="maximum")[0]]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize="x-small")
    return fig


# -- remedies, gradcheck, diagnose -----------------------------------------------------

def plot_outcome_bars(ax: Axes, rows: list[tuple[str, dict[str, float], str]]) -> list[Any]:
    """One horizontal bar per row (label, fractions by outcome, note at its end),
    stacked in the outcome colours, first row on top."""
    artists: list[Any] = []
    for i, (_, fractions, note) in enumerate(rows):
        left = 0.0
        for kind, colour in OUTCOME_COLOURS.items():
            share = float(fractions.get(kind, 0.0))
            if share > 0:
                artists.append(ax.barh(i, share, left=left, color=colour, edgecolor="white",
                                       lw=0.5, label=kind))
                left += share
        artists.append(ax.annotate(note, (1.0, i), xytext=(4, 0), textcoords="offset points",
                                   va="center", fontsize="x-small",
                                   annotation_clip=False))
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the starts")
    return artists


def remedies_figure(result: Any) -> Figure:
    """``remedies --plot``: the baseline and each remedy in rank order, the share of each
    outcome over the same starts, the success rate and median steps beside each bar."""
    entries = [("baseline", result.baseline), *((f"{i}. {r.id}", r) for i, r in
                                                 enumerate(result.remedies, start=1))]
    rows = []
    for label, r in entries:
        median = "" if r.median_steps is None else f", median {r.median_steps:.0f} steps"
        rows.append((label, r.fractions, f"{r.success_rate:.0%} recovered{median}"))
    fig = Figure(figsize=(9, 1.2 + 0.38 * len(rows)), layout="constrained")
    ax = fig.subplots()
    plot_outcome_bars(ax, rows)
    _outcome_legend(fig, {k for _, r in entries for k, v in r.fractions.items() if v > 0})
    fig.suptitle(f"Remedies ranked over {len(result.starts)} starts "
                 f"({result.config.loss}, {result.config.optimizer} lr={result.config.lr:g})",
                 fontsize="medium")
    return fig


def _outcome_legend(fig: Figure, present: set[str]) -> None:
    from matplotlib.patches import Patch

    kinds = [k for k in OUTCOME_COLOURS if k in present]
    fig.legend(handles=[Patch(color=OUTCOME_COLOURS[k], label=k) for k in kinds],
               loc="outside lower center", ncol=min(4, max(1, len(kinds))),
               fontsize="x-small")


def gradcheck_figure(result: Any, maps: list[Any]) -> Figure:
    """``gradcheck --plot``: for each kernel derivative, the analytic one (or yours), its
    central difference and their difference (the mismatch map), at the point where it
    failed first (at the start when it passed)."""
    n = max(1, len(maps))
    fig = Figure(figsize=(8.4, 2.5 * n + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n, 3))
    for row, m in zip(axes, maps):
        verdict = "pass" if m.passed else "FAIL"
        where = f"theta {m.point['theta']:.3f}"
        panels = ((row[0], m.analytic, f"d K / d {m.param} ({result.derivative_source})"),
                  (row[1], m.numeric, f"central difference (step {result.eps:g})"),
                  (row[2], m.difference, f"difference: {verdict} at {where}"))
        for ax, data, title in panels:
            image = plot_kernel(ax, data, title)
            fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle("Kernel derivatives against central differences "
                 f"({'all agree' if result.passed else 'some disagree'})", fontsize="medium")
    return fig


def diagnosis_figure(d: Any, stable: Stability | None) -> Figure:
    """``diagnose --plot``: the run on the landscape, the mechanism, and the remedies."""
    fig = Figure(figsize=(12, 13), layout="constrained")
    ensure_canvas(fig)
    top, middle, bottom = _subfigures(fig, 3, [1.1, 1.2, 0.8])
    land = d.landscape.landscape
    t = d.run.trajectory
    ax = top.subplots()
    config = d.config
    plot_landscape(ax, land, config.theta0, config.target_theta, (t.params[:, 0], t.loss))
    handles, labels = [], []
    for a in top.axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    top.legend(handles, labels, loc="outside right upper", fontsize="x-small")
    top.suptitle(f"the loss over theta and the run ({d.run.verdict.kind})", fontsize="small")
    plot_mechanism(middle, d.run, stable)
    bax = bottom.subplots()
    entries = [("baseline", d.remedies.baseline),
               *((f"{i}. {r.id}", r) for i, r in enumerate(d.remedies.remedies, start=1))]
    plot_outcome_bars(bax, [(label, r.fractions, f"{r.success_rate:.0%}")
                            for label, r in entries])
    bottom.suptitle("remedies over the same starts", fontsize="small")
    _outcome_legend(bottom, {k for _, r in entries for k, v in r.fractions.items() if v > 0})
    fig.suptitle(f"gabordiag diagnose: {d.run.verdict.kind}", fontsize="medium")
    _place(fig, ax)
    return fig


# -- recover ---------------------------------------------------------------------------

def recover_plot(result: RecoverResult, stable: Stability | None = None) -> Figure:
    """``recover --plot``: see :func:`recover_figure`."""
    return recover_figure(result, stable)


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write a figure atomically; the format follows the suffix (.png, .svg, .pdf)."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    return path


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (for reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
