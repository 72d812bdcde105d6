"""``gabordiag remedies``: run the experiment under each known remedy and rank them."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_run_outputs, progress_bar, study_of, write_figure, write_table
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import print_json


@app.command("remedies")
@with_experiment_options
def remedies_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    starts: Annotated[int, typer.Option(
        "--starts", min=1, max=10_000, help="Starting angles, evenly over one period.",
        rich_help_panel="Sweep")] = 72,
    json_output: Annotated[bool, json_flag("gabordiag.remedies/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "the share of each outcome per remedy, ranked, beside the baseline")] = None,
    csv: Annotated[Optional[Path], csv_option("the ranking, one row per remedy")] = None,
) -> None:
    """Rank the known fixes by success rate over starting angles and steps to converge.

    MSE, an lr below the curvature bound, rmse-eps, lr decay, Adam, multi-start, a
    unit-vector (doubled-angle) parametrisation and coarse-to-fine, each measured.
    """
    from ...analysis.remedies import run_remedies

    study = study_of(experiment, config_path)
    check_run_outputs(study.config, config_path, plot=plot, csv=csv)
    with progress_bar(9, "remedies", enabled=not json_output, min_total=1) as advance:
        result = run_remedies(study, starts, progress=advance)
    if plot is not None:
        from ...viz.figures import remedies_figure

        write_figure(lambda: remedies_figure(result), plot)
    if csv is not None:
        from ...viz.tables import remedies_csv

        write_table(remedies_csv(result), csv)
    if json_output:
        print_json(result.to_dict(), study.warnings)
        return
    from ..views.remedies import render_remedies  # rich, only for text output
    render_remedies(result)
