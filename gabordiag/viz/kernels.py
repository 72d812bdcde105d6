"""Kernels as images: ``kernel --plot`` (target, start, derivatives, each titled with its
parameters) and ``gradcheck --plot`` (each derivative, its central difference and
their difference)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from .style import ANGULAR

__all__ = ["gradcheck_figure", "kernel_figure", "kernels_plot", "plot_kernel"]

Array = NDArray[np.float64]


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


def gradcheck_figure(result: Any, maps: list[Any]) -> Figure:
    """``gradcheck --plot``: for each kernel derivative, the analytic one (or yours), its
    central difference and their difference (the mismatch map), at the point where it
    failed first (else where it could not be checked, else at the start)."""
    n = max(1, len(maps))
    fig = Figure(figsize=(8.4, 2.5 * n + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n, 3))
    for row, m in zip(axes, maps):
        verdict = {"pass": "pass", "fail": "FAIL"}.get(m.result, "unresolved (not settled)")
        where = f"theta {m.point['theta']:.3f}"
        panels = ((row[0], m.analytic, f"d K / d {m.param} ({result.derivative_source})"),
                  (row[1], m.numeric, f"central difference (step {m.step:.2g})"),
                  (row[2], m.difference, f"difference: {verdict} at {where}"))
        for ax, data, title in panels:
            image = plot_kernel(ax, data, title)
            fig.colorbar(image, ax=ax, shrink=0.8)
    overall = {"pass": "all agree", "fail": "some disagree"}.get(
        result.result, "none disagrees; some could not be checked")
    fig.suptitle(f"Kernel derivatives against central differences ({overall})",
                 fontsize="medium")
    return fig
