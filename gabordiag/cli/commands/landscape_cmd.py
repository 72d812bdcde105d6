"""``gabordiag landscape``: the loss over theta (or another parameter), and why
descent cycles there."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_run_outputs, study_of, write_figure, write_table
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import print_json, print_warning


@app.command("landscape")
@with_experiment_options
def landscape_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    param: Annotated[Optional[str], typer.Option(
        "--param", help="Parameter to vary: theta, lambda, sigma, gamma, psi. "
        "(default: theta)", metavar="NAME", rich_help_panel="Landscape")] = None,
    param2: Annotated[Optional[str], typer.Option(
        "--param2", help="A second parameter: a 2-D landscape (heatmap).", metavar="NAME",
        rich_help_panel="Landscape")] = None,
    span: Annotated[Optional[str], typer.Option(
        "--range", help="Interval LOW,HIGH of --param. (default: one period centred on the "
        "target for angles, 0.25x..4x the target otherwise)", metavar="LOW,HIGH",
        rich_help_panel="Landscape")] = None,
    span2: Annotated[Optional[str], typer.Option(
        "--range2", help="Interval of --param2.", metavar="LOW,HIGH",
        rich_help_panel="Landscape")] = None,
    points: Annotated[Optional[str], typer.Option(
        "--points", help="Samples (per axis in 2-D). Stationary points do not depend on "
        "it: exact roots of the Fourier series (spectral engine) or sign changes of the "
        "analytic gradient on at least 1024 samples, refined. (default: 720; 121 per axis "
        "in 2-D)", metavar="INT",
        rich_help_panel="Landscape")] = None,
    trajectory: Annotated[bool, typer.Option(
        "--trajectory", help="Draw a `recover` run with the same config on the plot (the "
        "1-D landscape or the heatmap; needs --plot and a learned parameter).",
        rich_help_panel="Output")] = False,
    json_output: Annotated[bool, json_flag("gabordiag.landscape/1")] = False,
    plot: Annotated[Optional[Path], plot_option()] = None,
    csv: Annotated[Optional[Path], csv_option("the samples")] = None,
) -> None:
    """The loss over theta: period, every minimum and maximum, where theta0 sits,
    the curvature at the target and the learning rates that are stable there.

    Example: gabordiag landscape --plot landscape.png
    """
    from ...analysis.landscape import run_landscape
    from ...config import values as v
    from ...config.model import option_value
    from ...errors import ConfigError

    name = option_value("--param", v.parameter_name, param) if param is not None else "theta"
    name2 = option_value("--param2", v.parameter_name, param2) if param2 is not None else None
    low_high = (option_value("--range", v.parameter_range(name), span)
                if span is not None else None)
    low_high2 = (option_value("--range2", v.parameter_range(name2 or "theta"), span2)
                 if span2 is not None else None)
    n_points = (option_value("--points", v.integer(8, 10**9), points)
                if points is not None else None)
    if span2 is not None and name2 is None:
        raise ConfigError("--range2: the interval of --param2 has no effect without "
                          "--param2; add --param2 NAME, or use --range for --param")
    study = study_of(experiment, config_path)
    if trajectory:  # it draws the run on the figure: nothing to draw on, or nothing drawn
        varied = [n for n in (name, name2) if n is not None]
        if plot is None:
            raise ConfigError("--trajectory: draws the run on the figure and has no effect "
                              "without --plot FILE")
        if not set(varied) & set(study.config.learn):
            raise ConfigError(f"--trajectory: the run learns {','.join(study.config.learn)}, "
                              f"which the landscape over {' and '.join(varied)} does not show; "
                              "it would draw nothing; vary a learned parameter or drop it")
    check_run_outputs(study.config, config_path, plot=plot, csv=csv)
    result = run_landscape(study, name, name2, low_high, low_high2, n_points,
                           trajectory=trajectory)
    if plot is not None:
        from ...viz.figures import landscape_plot

        write_figure(lambda: landscape_plot(result), plot)
    if csv is not None:
        write_table(result.to_csv(), csv)
    if json_output:
        print_json(result.to_dict(), [*study.warnings, *result.warnings])
        return
    for warning in result.warnings:
        print_warning(warning)
    from ..views.landscape import render_landscape  # rich, only for text output
    render_landscape(result)
