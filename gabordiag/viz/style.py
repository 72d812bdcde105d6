"""What every figure shares: colours of outcomes and stationary points, axis units,
the degree axis, legends merged across axes, and writing a figure to a file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from ..io import write_atomic

__all__ = ["ANGULAR", "OUTCOME_COLOURS", "POINT_COLOURS", "STATIONARY_GID", "TARGET_GID",
           "degrees_axis", "legend_entries", "png_bytes", "point_colour", "save_figure",
           "subfigures", "unit", "wrap_into_period"]

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


def point_colour(point: Any) -> str:
    """The colour of a stationary point: target-equivalent minimum, spurious minimum,
    maximum, or anything else."""
    if point.target_equivalent:
        return POINT_COLOURS["target"]
    if point.kind == "minimum":
        return POINT_COLOURS["spurious"]
    return POINT_COLOURS.get(point.kind, "0.4")


def unit(name: str) -> str:
    """An axis label with its unit (angles in rad)."""
    return f"{name} (rad)" if name in ANGULAR else name


def degrees_axis(ax: Axes, name: str) -> Any:
    """A secondary axis in degrees on top (angles only)."""
    if name not in ANGULAR:
        return None
    top = ax.secondary_xaxis("top", functions=(np.degrees, np.radians))
    top.set_xlabel(f"{name} (degrees)", fontsize="small")
    return top


def subfigures(fig: Figure, rows: int, ratios: list[float]) -> list[Any]:
    """``rows`` subfigures stacked, as a list."""
    return list(np.ravel(np.asarray(fig.subfigures(rows, 1, height_ratios=ratios),
                                    dtype=object)))



def wrap_into_period(values: Array, losses: Array, first: float, period: float | None
                     ) -> tuple[Array, Array]:
    """Iterates mapped into ``[first, first + period)`` for drawing on one period of the
    landscape, with a break (NaN) wherever an iterate wraps around."""
    if period is None:
        return values, losses
    wrapped = first + (values - first) % period
    breaks = np.flatnonzero(np.abs(np.diff(wrapped)) > period / 2) + 1
    return np.insert(wrapped, breaks, np.nan), np.insert(losses, breaks, np.nan)


def legend_entries(axes: list[Axes]) -> tuple[list[Any], list[str]]:
    """The legend handles and labels of several axes, each label once."""
    handles: list[Any] = []
    labels: list[str] = []
    for a in axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return handles, labels


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write a figure atomically; the format follows the suffix (.png, .svg, .pdf)."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    return path


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (for reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
