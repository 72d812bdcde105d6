"""A run over its steps: the loss, each parameter (zoomed on the run, the target and its
equivalents labelled), and the whole ``recover --plot`` figure with the mechanism."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from ..analysis.recover import RecoverResult
from ..analysis.stability import Stability
from .captions import angle_name, relative_to_target
from .layout import ensure_canvas
from .mechanism import plot_mechanism
from .style import TARGET_GID, subfigures, unit

__all__ = ["equivalents", "plot_loss_over_steps", "plot_param_over_steps", "recover_figure"]

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


def equivalents(target: float, period: float | None, low: float, high: float
                ) -> list[float]:
    """The target and its equivalents (target + k period) inside ``[low, high]``."""
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
        for value in equivalents(target, period if name == "theta" else None,
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
    ax.set_ylabel(unit(name))
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
        upper, lower = subfigures(fig, 2, [1, 1.35])
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

