"""``gabordiag recover``: reproduce the recovery experiment and judge the run."""

from pathlib import Path
from typing import Annotated, Any, Optional

from ..app import app
from ..common import check_run_outputs, progress_bar, study_of, write_figure, write_table
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import print_json


@app.command("recover")
@with_experiment_options
def recover_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    json_output: Annotated[bool, json_flag("gabordiag.recover/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "a figure: loss and theta over the steps, and the mechanism: the return map "
        "(theta_t+1 against theta_t) beside the loss around the minimum with the iterates, "
        "its slopes and the step")] = None,
    csv: Annotated[Optional[Path], csv_option("the trajectory")] = None,
) -> None:
    """Run the descent and say what it did: converged, cycling, stuck, diverged.

    With no options this reproduces the reference case: target theta = pi/4, start at
    -pi/4, RMSE loss, plain SGD. Example: gabordiag recover --theta0 -pi/4 --loss mse
    --lr 3e-4
    """
    from ...analysis.recover import recover

    study = study_of(experiment, config_path)
    check_run_outputs(study.config, config_path, plot=plot, csv=csv)
    with progress_bar(study.config.steps, "descent", enabled=not json_output) as advance:
        result = recover(study, progress=advance)
    if plot is not None:
        from ...analysis.stability import stability
        from ...viz.figures import recover_figure

        stable = stability(study, "theta") if "theta" in study.config.learn else None
        write_figure(lambda: recover_figure(result, stable), plot)
    if csv is not None:
        write_table(result.to_csv(), csv)
    if json_output:
        print_json(result.to_dict(), study.warnings)
        return
    from ..views.recover import render_recover  # rich, only for text output
    render_recover(result)
