"""Matplotlib figures. Plot functions take an ``Axes`` and return the artists;
``*_figure`` functions assemble a ``Figure`` (no pyplot, no global state)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

__all__ = ["kernel_figure", "plot_kernel", "plot_loss_over_steps", "plot_param_over_steps",
           "plot_trajectory_on_curve", "recover_figure"]

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
    if period and len(finite):
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
