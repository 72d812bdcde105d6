"""``diagnose --plot``: one page with the run on the landscape, the mechanism, and the
remedies over the same starts."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from ..analysis.stability import Stability
from .landscape import place_point_labels, plot_landscape
from .layout import ensure_canvas
from .mechanism import plot_mechanism
from .outcomes import outcome_legend, plot_outcome_bars
from .style import legend_entries, subfigures

__all__ = ["diagnosis_figure"]


def diagnosis_figure(d: Any, stable: Stability | None) -> Figure:
    """``diagnose --plot``: the run on the landscape, the mechanism, and the remedies."""
    fig = Figure(figsize=(12, 13), layout="constrained")
    ensure_canvas(fig)
    top, middle, bottom = subfigures(fig, 3, [1.1, 1.2, 0.8])
    land = d.landscape.landscape
    t = d.run.trajectory
    ax = top.subplots()
    config = d.config
    plot_landscape(ax, land, config.theta0, config.target_theta, (t.params[:, 0], t.loss))
    handles, labels = legend_entries(top.axes)
    top.legend(handles, labels, loc="outside right upper", fontsize="x-small")
    top.suptitle(f"the loss over theta and the run ({d.run.verdict.kind})", fontsize="small")
    plot_mechanism(middle, d.run, stable)
    bax = bottom.subplots()
    entries = [("baseline", d.remedies.baseline),
               *((f"{i}. {r.id}", r) for i, r in enumerate(d.remedies.remedies, start=1))]
    plot_outcome_bars(bax, [(label, r.fractions, f"{r.success_rate:.0%}")
                            for label, r in entries])
    bottom.suptitle("remedies over the same starts", fontsize="small")
    outcome_legend(bottom, {k for _, r in entries for k, v in r.fractions.items() if v > 0})
    fig.suptitle(f"gabordiag diagnose: {d.run.verdict.kind}", fontsize="medium")
    place_point_labels(fig, ax)
    return fig
