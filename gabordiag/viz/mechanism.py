"""The picture of why a run does what it does: the return map (cobweb) of theta and a
zoom of the loss around the minimum with the iterates, its one-sided slopes (or its
curvature) and the step.

A 2-cycle is a closed square in the return map, convergence a staircase into the
fixed point on the identity line. Plot functions take an ``Axes`` and return the
artists; :func:`plot_mechanism` fills a (sub)figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from numpy.typing import NDArray

from ..analysis.recover import RecoverResult, theta_profile
from ..analysis.stability import Stability
from .captions import angle_name, mechanism_caption, relative_to_target, step_sentence

__all__ = ["EVEN", "ODD", "mechanism_window", "plot_loss_zoom", "plot_mechanism",
           "plot_return_map"]

Array = NDArray[np.float64]
EVEN, ODD = "#1f77b4", "#ff7f0e"   # iterates at even and odd steps
RETURN_MAP_TITLE = "return map: a 2-cycle is a closed square, convergence a staircase"


def mechanism_window(values: Array, tail_steps: int | None, minimum: float | None
                     ) -> tuple[float, float, int]:
    """The theta interval the mechanism is drawn on and the first step shown: the tail
    of an oscillating run (with its minimum), or the last approach of a settling one."""
    finite = values[np.isfinite(values)]
    n = len(finite)
    final = float(finite[-1])
    if tail_steps:
        first = max(0, n - 1 - tail_steps)
        tail = finite[first:]
        low, high = float(tail.min()), float(tail.max())
    else:
        distance = np.abs(finite - final)
        reach = max(0.3 * float(distance[0]), 1e-3)
        first = int(np.argmax(distance <= reach)) if np.any(distance <= reach) else 0
        first = max(0, first - 1)
        low, high = final - reach, final + reach
    if minimum is not None and np.isfinite(minimum):
        low, high = min(low, minimum), max(high, minimum)
    pad = 0.35 * (high - low) or 1e-3
    return low - pad, high + pad, first


def plot_return_map(ax: Axes, values: Array, first: int, window: tuple[float, float],
                    fixed_point: float | None = None,
                    update: tuple[Array, Array] | None = None) -> list[Any]:
    """theta_{t+1} against theta_t from step ``first`` on, as a cobweb, with the identity
    line (and the plain-SGD update map ``update = (grid, next)`` when given)."""
    x = values[first:]
    x = x[np.isfinite(x)]
    low, high = window
    artists: list[Any] = ax.plot([low, high], [low, high], color="0.5", lw=0.8,
                                 label="identity: theta_{t+1} = theta_t")
    if update is not None:
        grid, nxt = update
        jumps = np.abs(np.diff(nxt))
        breaks = np.flatnonzero(jumps > 10 * np.median(jumps) + 1e-12) + 1
        grid, nxt = np.insert(grid, breaks, np.nan), np.insert(nxt, breaks, np.nan)
        artists += ax.plot(grid, nxt, color="0.2", lw=1.0, ls="-.",
                           label="update map theta - lr g(theta)")
    if len(x) > 1:
        doubled = np.repeat(x, 2)  # (x0, x0) (x0, x1) (x1, x1) (x1, x2) ...
        web_x, web_y = doubled[:-1], doubled[1:]
        artists += ax.plot(web_x, web_y, color="C3", lw=0.7, alpha=0.7, label="cobweb")
        steps = np.arange(first, first + len(x) - 1)
        even = steps % 2 == 0
        artists.append(ax.scatter(x[:-1][even], x[1:][even], s=12, color=EVEN, zorder=3,
                                  label="(theta_t, theta_{t+1}), t even"))
        artists.append(ax.scatter(x[:-1][~even], x[1:][~even], s=12, color=ODD, zorder=3,
                                  label="t odd"))
    if fixed_point is not None:
        artists += ax.plot([fixed_point], [fixed_point], "*", color="C2", ms=11, zorder=4,
                           label=f"minimum {angle_name(fixed_point)}")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("theta_t (rad)")
    ax.set_ylabel("theta_{t+1} (rad)")
    ax.set_title(RETURN_MAP_TITLE, fontsize="small")
    return artists


def plot_loss_zoom(ax: Axes, grid: Array, loss: Array, values: Array, losses: Array,
                   first: int, minimum: float | None, minimum_loss: float | None,
                   stable: Stability | None, lr: float | None) -> list[Any]:
    """The loss around the minimum with the iterates from step ``first`` (even and odd
    steps apart), the one-sided slopes of a kink or the curvature, and the last step
    (labelled ``lr x slope`` when ``lr`` is given: a plain SGD run)."""
    artists: list[Any] = ax.plot(grid, loss, color="0.25", lw=1.2, label="loss(theta)")
    x, y = values[first:], losses[first:]
    keep = np.isfinite(x) & np.isfinite(y)
    steps = np.arange(first, first + len(x))
    for parity, colour, name in ((0, EVEN, "iterates, even steps"),
                                 (1, ODD, "iterates, odd steps")):
        sel = keep & (steps % 2 == parity)
        artists.append(ax.scatter(x[sel], y[sel], s=14, color=colour, zorder=3, label=name))
    top = float(np.nanmax(loss))
    if minimum is not None and minimum_loss is not None:
        if stable is not None and stable.kink_slope is not None:
            s = stable.kink_slope
            for side, sign in ((grid <= minimum, -1.0), (grid >= minimum, 1.0)):
                xs = grid[side]
                artists += ax.plot(xs, minimum_loss + s * np.abs(xs - minimum), ls="--",
                                   color="C2", lw=1.0,
                                   label=f"one-sided slopes ±{s:.3g}" if sign < 0 else None)
            artists.append(ax.annotate(f"slope {-s:.3g}", (grid[0], minimum_loss + s * abs(
                grid[0] - minimum)), textcoords="offset points", xytext=(4, -12),
                fontsize="x-small", color="C2", clip_on=True))
            artists.append(ax.annotate(f"slope +{s:.3g}", (grid[-1], minimum_loss + s * abs(
                grid[-1] - minimum)), textcoords="offset points", xytext=(-4, -12),
                ha="right", fontsize="x-small", color="C2", clip_on=True))
        else:
            c = None if stable is None else (stable.loss_curvature or stable.mse_curvature)
            if c is not None and c > 0:
                artists += ax.plot(grid, minimum_loss + 0.5 * c * (grid - minimum) ** 2,
                                   ls="--", color="C2", lw=1.0,
                                   label=f"curvature {c:.4g} at the target")
        artists.append(ax.axvline(minimum, color="C2", lw=0.8, ls=":"))
        finite = np.flatnonzero(keep)
        moving = len(finite) >= 2 and abs(x[finite[-1]] - x[finite[-2]]) > 1e-3 * (
            grid[-1] - grid[0])
        if moving:
            a, b = x[finite[-2]], x[finite[-1]]
            level = minimum_loss + 0.08 * (top - minimum_loss)
            artists.append(ax.annotate("", (b, level), (a, level),
                                       arrowprops={"arrowstyle": "->", "color": "C3"}))
            text = (step_sentence(lr, stable.kink_slope) if lr is not None and stable
                    is not None and stable.kink_slope is not None
                    else f"last step {abs(b - a):.3g} rad")
            artists.append(ax.annotate(text, ((a + b) / 2, level), textcoords="offset points",
                                       xytext=(0, 4), ha="center", fontsize="x-small",
                                       color="C3"))
    ax.set_xlim(float(grid[0]), float(grid[-1]))
    ax.set_ylim(min(float(np.nanmin(loss)), minimum_loss or np.inf) - 0.03 * top, 1.05 * top)
    ax.set_xlabel("theta (rad)")
    ax.set_ylabel("loss")
    ax.set_title("the loss around the minimum, the iterates on it", fontsize="small")
    return artists


def plot_mechanism(fig: Figure | SubFigure, result: RecoverResult,
                   stable: Stability | None) -> list[Axes]:
    """Return map and loss zoom side by side, with a caption that says what they show
    (from the verdict's evidence and the stability facts)."""
    t = result.trajectory
    config = result.config
    j = t.names.index("theta")
    values = t.params[:, j]
    ev = result.verdict.evidence
    minimum = ev.get("minimum") if ev.get("minimum_found") else None
    if minimum is None and result.verdict.recovered:
        minimum = float(values[-1])
    tail = ev.get("tail_steps") if result.verdict.kind == "cycling" else None
    low, high, first = mechanism_window(values, tail, minimum)
    grid = np.linspace(low, high, 401)
    loss, grad = theta_profile(result, grid)
    axes = fig.subplots(1, 2, width_ratios=[1, 1.5])
    plain = config.plain_sgd and len(t.names) == 1
    update = (grid, grid - config.lr * grad) if plain else None
    plot_return_map(axes[0], values, first, (low, high), minimum, update)
    minimum_loss = None
    if minimum is not None:
        minimum_loss = float(ev.get("minimum_loss", theta_profile(
            result, np.array([minimum]))[0][0]))
    plot_loss_zoom(axes[1], grid, loss, values, t.loss, first, minimum, minimum_loss,
                   stable, config.lr if plain else None)
    for ax in axes:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="x-small",
                  ncol=2, frameon=False)
    curvature = None if stable is None else stable.loss_curvature
    caption = mechanism_caption(result.verdict, config.target_theta, result.period,
                                None if stable is None else stable.kink_slope, config.lr,
                                curvature, plain)
    if minimum is not None:
        relation = relative_to_target(minimum, config.target_theta, result.period, 1e-4)
        axes[0].set_title(RETURN_MAP_TITLE
                          + (f"\nfixed point {angle_name(minimum)} = {relation}"
                             if relation else ""), fontsize="small")
    fig.suptitle(caption, fontsize="small", ha="left", x=0.02, multialignment="left")
    return list(axes)
