"""``gabordiag basins``: from which starting angles, with which learning rates,
optimizers and losses, descent recovers the target."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_run_outputs, progress_bar, study_of, write_figure, write_table
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import print_json


def _values(several: dict[str, Any], key: str) -> Optional[list[Any]]:
    from ...config.model import parse_option

    raw = several.get(key)
    if not raw:
        return None
    return list(dict.fromkeys(parse_option(key, v) for v in raw))  # keep order, no repeats


@app.command("basins")
@with_experiment_options(multi=("lr", "optimizer", "loss"))
def basins_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    several: dict[str, Any],
    starts: Annotated[int, typer.Option(
        "--starts", min=1, max=100_000, help="Starting angles, evenly over one period.",
        rich_help_panel="Sweep")] = 360,
    lr_range: Annotated[Optional[str], typer.Option(
        "--lr-range", help="LOW,HIGH,N: N learning rates on a log scale (instead of --lr).",
        metavar="LOW,HIGH,N", rich_help_panel="Sweep")] = None,
    json_output: Annotated[bool, json_flag("gabordiag.basins/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "the map of start x case coloured by outcome under the loss over theta of each "
        "compared loss")] = None,
    csv: Annotated[Optional[Path], csv_option(
        "one row per start and case (theta0, loss, optimizer, lr, verdict, steps)")] = None,
) -> None:
    """Run descents from a grid of starting angles and map the outcomes.

    Compare learning rates (--lr 1e-4 --lr 1e-3, or --lr-range 1e-4,1e-2,5), optimizers
    and losses side by side. Example: gabordiag basins --loss rmse --loss mse --lr 3e-4
    """
    from ...analysis.basins import run_basins
    from ...config.model import option_value
    from ...config.values import log_range
    from ...errors import ConfigError

    lrs = _values(several, "lr")
    if lr_range is not None:
        if lrs:
            raise ConfigError("--lr-range: give either --lr or --lr-range, not both")
        lrs = option_value("--lr-range", log_range, lr_range)
    optimizers = _values(several, "optimizer")
    losses = _values(several, "loss")
    study = study_of(experiment, config_path, several)
    check_run_outputs(study.config, config_path, plot=plot, csv=csv)
    cases = len(lrs or [0]) * len(optimizers or [0]) * len(losses or [0])
    with progress_bar(cases * study.config.steps, "basins", enabled=not json_output) as advance:
        result = run_basins(study, starts, lrs, optimizers, losses, progress=advance)
    if plot is not None:
        from ...analysis.landscape import theta_landscape
        from ...viz.figures import basins_figure

        landscapes = {loss: theta_landscape(study if loss == study.config.loss else
                                            study.variant(loss=loss))
                      for loss in dict.fromkeys(case.loss for case in result.cases)}
        write_figure(lambda: basins_figure(result, landscapes), plot)
    if csv is not None:
        from ...viz.tables import basins_csv

        write_table(basins_csv(result), csv)
    if json_output:
        print_json(result.to_dict(), study.warnings)
        return
    from ..views.basins import render_basins  # rich, only for text output
    render_basins(result)
