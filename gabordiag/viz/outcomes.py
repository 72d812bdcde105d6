"""Outcomes over many starts: the map of verdicts per start (``basins --plot``, under the
loss of each compared loss) and the stacked bars per remedy (``remedies --plot``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Patch
from numpy.typing import NDArray

from ..analysis.landscape import Landscape
from .style import OUTCOME_COLOURS, POINT_COLOURS, point_colour

__all__ = ["basins_figure", "outcome_legend", "plot_outcome_bars", "plot_outcome_map",
           "remedies_figure"]

Array = NDArray[np.float64]


def plot_outcome_map(ax: Axes, starts: Array, labels: list[str],
                     outcomes: list[list[str]]) -> list[Any]:
    """Start x case grid coloured by verdict kind (the legend is the figure's)."""
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
            colour = point_colour(p)
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
    outcome_legend(fig, {k for _, r in entries for k, v in r.fractions.items() if v > 0})
    fig.suptitle(f"Remedies ranked over {len(result.starts)} starts "
                 f"({result.config.loss}, {result.config.optimizer} lr={result.config.lr:g})",
                 fontsize="medium")
    return fig


def outcome_legend(fig: Figure | SubFigure, present: set[str]) -> None:
    """A legend of the outcome kinds present, below the (sub)figure."""
    kinds = [k for k in OUTCOME_COLOURS if k in present]
    fig.legend(handles=[Patch(color=OUTCOME_COLOURS[k], label=k) for k in kinds],
               loc="outside lower center", ncol=min(4, max(1, len(kinds))),
               fontsize="x-small")
