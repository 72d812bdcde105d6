"""The rich rendering of a basins sweep: one row per case, the share of each outcome."""

from typing import Any

from rich import box
from rich.table import Table

from ...analysis.basins import BasinsResult
from ..render import out_console

__all__ = ["render_basins"]

_COLUMNS = (("converged", "recov."), ("cycling", "cycle"), ("local-minimum", "local\nmin"),
            ("stalled", "stall"), ("diverged", "diverged"), ("not-converged", "moving"))


def render_basins(result: BasinsResult) -> None:
    """One row per case: the share of each outcome and the median steps to converge.

    Outcome columns that are 0% in every case are left out."""
    n = len(result.starts)
    summaries = [case.summary() for case in result.cases]
    table = Table(title=f"Outcomes of {n} descent{'s' if n != 1 else ''} from "
                  f"{'starts' if n != 1 else 'a start'} over one period "
                  f"({result.config.steps} step{'s' if result.config.steps != 1 else ''} "
                  f"each)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("case", no_wrap=True)
    shown = [(kind, header) for kind, header in _COLUMNS
             if kind == "converged" or any(_share(s, kind) > 0 for s in summaries)]
    for _, header in [*shown, ("", "median\nsteps")]:
        table.add_column(header, justify="right", no_wrap=True)
    for case, s in zip(result.cases, summaries):
        median = s["median_steps_to_converge"]
        cells = []
        for kind, _ in shown:
            share = _share(s, kind)
            text = f"{share:.0%}"
            if kind == "converged":
                style = "green" if share >= 0.9 else ("yellow" if share >= 0.5 else "red")
                text = f"[{style}]{text}[/{style}]"
            cells.append(text)
        table.add_row(f"{case.loss} {case.optimizer} lr={case.lr:.3g}", *cells,
                      "-" if median is None else f"{median:.0f}")
    out_console.print(table)
    out_console.print("[dim]recov. = converged to the target or an equivalent angle; "
                      "moving = not converged when the steps ran out; engines: "
                      + ", ".join(f"{k}: {v}" for k, v in result.engines.items()) + "[/dim]")


def _share(summary: dict[str, Any], kind: str) -> float:
    if kind == "converged":
        return float(summary["success_rate"])
    return float(summary["fractions"][kind])
