"""Matplotlib figures. Plot functions take an ``Axes`` and return the artists;
``*_figure`` functions assemble a ``Figure`` (no pyplot, no global state)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from ..analysis.landscape import LandscapeResult
from ..analysis.recover import RecoverResult, theta_curve
from ..io import write_atomic

__all__ = [
    "OUTCOME_COLOURS",
    "basins_figure",
    "kernel_figure",
    "landscape_2d_figure",
    "landscape_figure",
    "landscape_plot",
    "plot_kernel",
    "plot_landscape",
    "plot_landscape_2d",
    "plot_loss_over_steps",
    "plot_outcome_map",
    "plot_param_over_steps",
    "plot_trajectory_on_curve",
    "png_bytes",
    "recover_figure",
    "recover_plot",
    "save_figure",
    "wrap_into_period",
]

Array = NDArray[np.float64]


def plot_loss_over_steps(ax: Axes, loss: Array) -> list[Any]:
    """Loss per step on a log axis (linear when any loss is <= 0)."""
    steps = np.arange(len(loss))
    artists = ax.plot(steps, loss, lw=1.0, color="C0")
    if np.all(loss[np.isfinite(loss)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    return artists


def plot_param_over_steps(ax: Axes, values: Array, name: str, target: float,
                          period: float | None) -> list[Any]:
    """A parameter per step, with the target and its equivalents (target + k*period)."""
    steps = np.arange(len(values))
    artists: list[Any] = ax.plot(steps, values, lw=1.0, color="C1", label=name)
    finite = values[np.isfinite(values)]
    # the target's equivalents, unless the run spans so many periods (a divergence)
    # that one line per period would be millions of lines
    if period and len(finite) and (finite.max() - finite.min()) / period <= 50:
        k_low = int(np.floor((finite.min() - target) / period))
        k_high = int(np.ceil((finite.max() - target) / period))
        for k in range(k_low, k_high + 1):
            artists.append(ax.axhline(target + k * period, color="0.5", ls="--", lw=0.8))
    else:
        artists.append(ax.axhline(target, color="0.5", ls="--", lw=0.8))
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    return artists


def plot_trajectory_on_curve(ax: Axes, grid: Array, curve: Array, thetas: Array,
                             losses: Array) -> list[Any]:
    """The loss over theta with the run's iterates drawn on it (start and end marked)."""
    artists: list[Any] = ax.plot(grid, curve, color="0.3", lw=1.0, label="loss(theta)")
    artists.append(ax.plot(thetas, losses, color="C3", lw=0.6, alpha=0.6, marker=".",
                           ms=3, label="iterates")[0])
    artists.append(ax.plot(thetas[:1], losses[:1], "o", color="C2", label="start")[0])
    artists.append(ax.plot(thetas[-1:], losses[-1:], "s", color="C3", label="end")[0])
    ax.set_xlabel("theta (rad)")
    ax.set_ylabel("loss")
    ax.legend(loc="best", fontsize="small")
    return artists


def recover_figure(trajectory: Any, target: dict[str, float], period: float | None,
                   curve: tuple[Array, Array] | None, title: str) -> Figure:
    """Loss and parameters over the steps, and the run on the loss-over-theta curve."""
    names = list(trajectory.names)
    panels = 1 + len(names) + (1 if curve is not None else 0)
    fig = Figure(figsize=(7.5, 2.4 * panels), layout="constrained")
    axes = fig.subplots(panels, 1)
    axes = np.atleast_1d(axes)
    plot_loss_over_steps(axes[0], trajectory.loss)
    for ax, (j, name) in zip(axes[1:], enumerate(names)):
        plot_param_over_steps(ax, trajectory.params[:, j], name, target[name],
                              period if name == "theta" else None)
    if curve is not None:
        j = names.index("theta")
        plot_trajectory_on_curve(axes[-1], curve[0], curve[1], trajectory.params[:, j],
                                 trajectory.loss)
    fig.suptitle(title, fontsize="medium")
    return fig


def plot_kernel(ax: Axes, kernel: Array, title: str) -> Any:
    """A kernel as an image with a symmetric diverging colour scale."""
    limit = float(np.abs(kernel).max()) or 1.0
    image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit,
                      interpolation="nearest")
    ax.set_title(title, fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def kernel_figure(kernels: dict[str, Array]) -> Figure:
    """One panel per kernel (name -> array), each with its own colour bar."""
    n = len(kernels)
    fig = Figure(figsize=(2.6 * n, 2.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (name, kernel) in zip(axes, kernels.items()):
        image = plot_kernel(ax, kernel, name)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def plot_landscape(ax: Axes, landscape: Any, theta0: float | None = None,
                   target: float | None = None, trajectory: tuple[Array, Array] | None = None
                   ) -> list[Any]:
    """Loss (left axis) and gradient (right axis) over one parameter: the period, the
    target-equivalent values, theta0, every minimum and maximum, the target's basin."""
    land = landscape
    step = float(land.grid[1] - land.grid[0])
    low, high = float(land.grid[0]), float(land.grid[-1])
    periodic = land.period is not None and abs(high + step - low - land.period) < 1e-9
    shifts = [0.0]
    if periodic:  # tile one period so that points at its edges are seen from both sides
        period = land.period
        shifts = [-period, 0.0, period]
        low, high = low - 0.1 * period, low + 1.1 * period
    grid = np.concatenate([land.grid + s for s in shifts])
    loss = np.concatenate([land.loss for _ in shifts])
    grad = np.concatenate([land.grad for _ in shifts])
    keep = (grid >= low) & (grid <= high)
    artists: list[Any] = ax.plot(grid[keep], loss[keep], color="C0", lw=1.2, label="loss")
    twin = ax.twinx()
    artists += twin.plot(grid[keep], grad[keep], color="C1", lw=0.8, alpha=0.7,
                         label="gradient")
    twin.axhline(0.0, color="C1", lw=0.5, alpha=0.4)
    twin.set_ylabel("d loss / d " + land.param, color="C1")
    basin = land.facts.get("target_basin", {}) if land.facts else {}
    if basin.get("from") is not None and basin.get("to") is not None:
        for s in shifts:
            a, b = max(basin["from"] + s, low), min(basin["to"] + s, high)
            if a < b:
                artists.append(ax.axvspan(a, b, color="C2", alpha=0.08,
                                          label="target's basin" if s == 0 else None))
    if target is not None:
        period = land.period
        ks = (range(int(np.floor((low - target) / period)),
                    int(np.ceil((high - target) / period)) + 1) if period else [0])
        for k in ks:
            value = target + k * (period or 0.0)
            if low <= value <= high:
                artists.append(ax.axvline(value, color="C2", ls="--", lw=1.0,
                                          label="target" if k == 0 else None))
    if periodic:
        first = float(land.grid[0])
        for edge in (first, first + land.period):
            artists.append(ax.axvline(edge, color="0.5", ls=":", lw=0.8))
        name = "pi" if abs(land.period - np.pi) < 1e-9 else "2pi"
        artists.append(ax.annotate(f"<- one period ({name}) ->",
                                   xy=(first + land.period / 2, 1.0),
                                   xycoords=("data", "axes fraction"), ha="center",
                                   va="bottom", fontsize="small"))
    for p in land.stationary_points:
        marker = "v" if p.kind == "minimum" else "^"
        color = "C2" if p.target_equivalent else ("C3" if p.kind == "minimum" else "0.4")
        for s in shifts:
            value = p.value + s
            if not low <= value <= high:
                continue
            artists += ax.plot([value], [p.loss], marker, color=color, ms=6)
            artists.append(ax.annotate(f"{p.kind[:3]} {value:.3f}", (value, p.loss),
                                       textcoords="offset points", xytext=(3, 5),
                                       fontsize="x-small"))
    if theta0 is not None and low <= theta0 <= high:
        artists.append(ax.axvline(theta0, color="C4", lw=1.0, label=f"start {theta0:.3f}"))
    if trajectory is not None:
        artists += ax.plot(trajectory[0], trajectory[1], ".-", color="C3", ms=2, lw=0.4,
                           alpha=0.6, label="descent")
    ax.set_xlabel(land.param)
    ax.set_ylabel("loss", color="C0")
    ax.set_xlim(low, high)
    ax.legend(loc="upper right", fontsize="x-small")
    return artists


def landscape_figure(landscape: Any, theta0: float | None, target: float | None,
                     trajectory: tuple[Array, Array] | None, title: str) -> Figure:
    """The one-parameter landscape as a figure."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    plot_landscape(fig.subplots(), landscape, theta0, target, trajectory)
    fig.suptitle(title, fontsize="medium")
    return fig


def plot_landscape_2d(ax: Axes, landscape: Any) -> list[Any]:
    """The loss over two parameters as a heatmap, grid minima and maxima marked."""
    land = landscape
    mesh = ax.pcolormesh(land.grid2, land.grid, land.loss, shading="nearest", cmap="viridis")
    artists: list[Any] = [mesh]
    if land.minima:
        artists += ax.plot([m[1] for m in land.minima], [m[0] for m in land.minima], "v",
                           color="white", ms=6, label="minimum")
    if land.maxima:
        artists += ax.plot([m[1] for m in land.maxima], [m[0] for m in land.maxima], "^",
                           color="red", ms=6, label="maximum")
    ax.set_xlabel(land.params[1])
    ax.set_ylabel(land.params[0])
    if land.minima or land.maxima:
        ax.legend(loc="upper right", fontsize="x-small")
    return artists


def landscape_2d_figure(landscape: Any, title: str) -> Figure:
    """The two-parameter landscape as a figure with a colour bar."""
    fig = Figure(figsize=(7, 5.5), layout="constrained")
    ax = fig.subplots()
    mesh = plot_landscape_2d(ax, landscape)[0]
    fig.colorbar(mesh, ax=ax, label="loss")
    fig.suptitle(title, fontsize="medium")
    return fig


OUTCOME_COLOURS = {"converged": "#1a9850", "converged-equivalent": "#91cf60",
                   "local-minimum": "#fdae61", "cycling": "#d73027", "stalled": "#fee08b",
                   "diverged": "#4d4d4d", "not-converged": "#abd9e9"}


def plot_outcome_map(ax: Axes, starts: Array, labels: list[str],
                     outcomes: list[list[str]]) -> list[Any]:
    """Start x case grid coloured by verdict kind."""
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
    from matplotlib.patches import Patch

    present = sorted({kind for row in outcomes for kind in row}, key=kinds.index)
    ax.legend(handles=[Patch(color=OUTCOME_COLOURS[k], label=k) for k in present],
              loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize="x-small")
    return [image]


def basins_figure(result: Any, landscape: Any) -> Figure:
    """The loss over theta above the map of outcomes, on a shared theta axis."""
    labels = [f"{c.loss} {c.optimizer} lr={c.lr:g}" for c in result.cases]
    height = 2.6 + 0.35 * len(labels)
    fig = Figure(figsize=(9, height + 1.2), layout="constrained")
    ratios = [2.4, max(1.0, 0.35 * len(labels))]
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    starts = np.asarray(result.starts)
    period = landscape.period or (starts[-1] - starts[0])
    first = float(starts[0])
    grid = first + (landscape.grid - first) % period
    order = np.argsort(grid)
    top.plot(grid[order], landscape.loss[order], color="C0", lw=1.2)
    for p in landscape.stationary_points:
        x = first + (p.value - first) % period
        top.plot([x], [p.loss], "v" if p.kind == "minimum" else "^",
                 color="C2" if p.target_equivalent else "C3", ms=6)
    top.set_ylabel("loss")
    top.set_title("loss over theta (the basins line up with it)", fontsize="small")
    plot_outcome_map(bottom, starts, labels, [c.kinds for c in result.cases])
    return fig


def wrap_into_period(values: Array, losses: Array, first: float, period: float | None
                     ) -> tuple[Array, Array]:
    """Iterates mapped into ``[first, first + period)`` for drawing on one period of the
    landscape, with a break (NaN) wherever an iterate wraps around."""
    if period is None:
        return values, losses
    wrapped = first + (values - first) % period
    breaks = np.flatnonzero(np.abs(np.diff(wrapped)) > period / 2) + 1
    return np.insert(wrapped, breaks, np.nan), np.insert(losses, breaks, np.nan)


# -- figures of analysis results (what the commands write) ------------------------------

def recover_plot(result: RecoverResult) -> Figure:
    """``recover --plot``: loss and parameters over the steps, the run on the loss."""
    config = result.config
    curve = theta_curve(result) if "theta" in config.learn else None
    title = f"{result.verdict.kind}: {config.loss}, {config.optimizer} lr={config.lr:g}"
    return recover_figure(result.trajectory, config.target.as_dict(), result.period, curve,
                          title)


def landscape_plot(result: LandscapeResult) -> Figure:
    """``landscape --plot``: the 1-D landscape (with the descent, if it was run) or the
    2-D heatmap."""
    config = result.config
    title = (f"{config.loss} loss, {config.image} image, ksize {config.ksize}, "
             f"sigma {config.sigma:g}, lambda {config.lambd:g}, gamma {config.gamma:g}, "
             f"psi {config.psi:g}")
    if result.landscape_2d is not None:
        return landscape_2d_figure(result.landscape_2d, title)
    land = result.landscape
    assert land is not None
    overlay = None
    if result.trajectory is not None:
        t = result.trajectory
        j = t.names.index(land.param)
        overlay = wrap_into_period(t.params[:, j], t.loss, float(land.grid[0]), land.period)
    start = config.start.as_dict()[land.param] if land.param in config.learn else None
    return landscape_figure(land, start, config.target.as_dict()[land.param], overlay, title)


def save_figure(fig: Figure, path: Path, dpi: int = 120) -> None:
    """Write a figure atomically; the format follows the suffix (.png, .svg, .pdf)."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi))


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """A figure as PNG bytes (for reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
