"""Figures of a layer diagnosis: the kernel the layer applies beside our model fitted to
it and their difference; the layer's loss over one period of its orientation parameter
with the run on it, beside gabordiag's reference kernel at the fitted parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.layer.fit import gabor_model
from ..analysis.layer.result import LayerDiagnosis
from .kernels import plot_kernel
from .style import OUTCOME_COLOURS

__all__ = ["layer_figure", "plot_kernel_fit", "plot_layer_landscape"]


def _g(value: float) -> str:
    """A fitted value, with rounding noise below 1e-9 shown as 0."""
    return f"{0.0 if abs(value) < 1e-9 else value:.3g}"


def plot_kernel_fit(axes: Any, d: LayerDiagnosis) -> list[Any]:
    """Three panels: the effective kernel, the fitted model, their difference."""
    c = d.convention
    fit = c.fit
    model = gabor_model(c.kernel.shape, fit.theta, fit.lambd, fit.sigma, fit.gamma, fit.psi,
                        fit.amplitude, fit.dx, fit.dy)
    o, i = c.channel
    return [plot_kernel(axes[0], c.kernel, f"your filter ({o}, {i}), as loaded"),
            plot_kernel(axes[1], model,
                        f"our model: theta {_g(fit.theta)}, lambda {_g(fit.lambd)},\n"
                        f"sigma {_g(fit.sigma)}, gamma {_g(fit.gamma)}, psi {_g(fit.psi)}, "
                        f"A {_g(fit.amplitude)}"),
            plot_kernel(axes[2], c.kernel - model,
                        f"difference (relative {fit.residual:.1e})")]


def plot_layer_landscape(ax: Axes, d: LayerDiagnosis) -> list[Any]:
    """The layer's loss over one period of its parameter, the reference's on the same
    axis (mapped into your units), the run on it and the target."""
    r = d.recovery
    if r is None:
        ax.text(0.5, 0.5, d.recovery_note or "no recovery experiment", ha="center",
                va="center", wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
        return []
    land = r.landscape
    order = np.argsort(land.grid)
    artists: list[Any] = list(ax.plot(land.grid[order], land.loss[order], color="C0",
                                      label="your layer"))
    if r.reference_loss is not None:
        artists += ax.plot(land.grid[order], r.reference_loss[order], color="0.5", ls="--",
                           label="gabordiag's kernel at the fit")
    values = r.trajectory.params[:, 0]
    low, high = land.grid.min(), land.grid.max() + land.period / len(land.grid)
    wrapped = low + (values - low) % land.period
    colour = OUTCOME_COLOURS.get(r.verdict.kind, "k")
    artists.append(ax.scatter(wrapped, r.trajectory.loss, s=8, color=colour, zorder=3,
                              label=f"the run: {r.verdict.kind}"))
    artists.append(ax.axvline(r.target, color="#1a9850", lw=1, label="target"))
    ax.set_xlim(low, high)
    ax.set_xlabel(f"{r.param} (your units)")
    ax.set_ylabel(d.config.loss)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return artists


def layer_figure(d: LayerDiagnosis) -> Figure:
    """The kernels on top, the landscape with the run below."""
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.1])  # type: ignore[misc]
    axes = top.subplots(1, 3)
    for ax, image in zip(axes, plot_kernel_fit(axes, d)):
        top.colorbar(image, ax=ax, shrink=0.8)
    plot_layer_landscape(bottom.subplots(1, 1), d)
    fig.suptitle(f"gabordiag layer {d.spec}", fontsize="medium")
    return fig
