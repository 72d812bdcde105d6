"""``gabordiag remedies``: run the experiment under each known remedy and rank them."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from ...experiment import resolve_config
from ...remedies import RemediesResult, run_remedies
from .. import app
from ..common import progress_bar
from ..options import json_flag, with_experiment_options
from ..render import out_console, print_json


@app.command("remedies")
@with_experiment_options
def remedies_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    starts: Annotated[int, typer.Option(
        "--starts", min=1, max=10_000, help="Starting angles, evenly over one period.",
        rich_help_panel="Sweep")] = 72,
    json_output: Annotated[bool, json_flag("gabordiag.remedies/1")] = False,
) -> None:
    """Rank the known fixes by success rate over starting angles and steps to converge.

    MSE, an lr below the curvature bound, rmse-eps, lr decay, Adam, multi-start, a
    unit-vector (doubled-angle) parametrisation and coarse-to-fine, each measured.
    """
    config, _ = resolve_config(experiment, config_path)
    with progress_bar(9, "remedies", enabled=not json_output, min_total=1) as advance:
        result = run_remedies(config, starts, progress=advance)
    if json_output:
        print_json(result.to_dict())
        return
    render_remedies(result)


def render_remedies(result: RemediesResult) -> None:
    """The ranked table and the one-line reasons."""
    b = result.baseline
    n = len(result.starts)
    table = Table(title=f"Remedies ranked over {n} starts (baseline: "
                  f"{b.success_rate:.0%} recovered)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("remedy")
    table.add_column("recov.", justify="right")
    table.add_column("median\nsteps", justify="right")
    table.add_column("removes")
    table.add_column("leaves")
    for rank, r in enumerate(result.remedies, start=1):
        style = "green" if r.success_rate >= 0.9 else ("yellow" if r.success_rate >= 0.5
                                                       else "red")
        table.add_row(str(rank), r.id, f"[{style}]{r.success_rate:.0%}[/{style}]",
                      "-" if r.median_steps is None else f"{r.median_steps:.0f}",
                      ", ".join(r.removes) or "-", ", ".join(r.leaves) or "-")
    out_console.print(table)
    for rank, r in enumerate(result.remedies, start=1):
        out_console.print(f"[bold]{rank}. {r.id}[/bold] ({r.title}): {r.why}")
