"""``gabordiag gradcheck``: analytic derivatives against finite differences."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_run_outputs, study_of, write_figure, write_table
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import print_json

UNRESOLVED_EXIT = 3  # no derivative failed, but some could not be checked


@app.command("gradcheck")
@with_experiment_options
def gradcheck_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    random_points: Annotated[int, typer.Option(
        "--random", min=0, max=1000, help="Random points besides the start and the target.",
        rich_help_panel="Gradcheck")] = 5,
    fd_step: Annotated[float, typer.Option(
        "--fd-step", min=1e-12, max=1e-1,
        help="First central finite-difference step (times lambda or sigma where that is "
             "below 1), halved where a derivative disagrees with it, until the "
             "differences settle.",
        rich_help_panel="Gradcheck")] = 1e-6,
    atol: Annotated[float, typer.Option(
        "--atol", min=0.0, help="Absolute tolerance.", rich_help_panel="Gradcheck")] = 1e-5,
    rtol: Annotated[float, typer.Option(
        "--rtol", min=0.0, help="Relative tolerance.", rich_help_panel="Gradcheck")] = 1e-3,
    json_output: Annotated[bool, json_flag("gabordiag.gradcheck/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "the mismatch map: each kernel derivative, its central difference and their "
        "difference, where it fails first")] = None,
    csv: Annotated[Optional[Path], csv_option("the table, one row per derivative")] = None,
) -> None:
    """Compare d kernel / d parameter and d loss / d parameter with central finite
    differences; exit 1 beyond the tolerances (like torch.autograd.gradcheck), 3 when
    none fails but some could not be checked (the differences at steps h and h/2 do not
    agree at any step: unresolved).

    Check your own code: --derivative mymodule:dkernel (and --kernel mymodule:kernel).
    A mismatch is localised: worst pixels and angles, and a sign flip, a constant
    factor, a transposed or mirrored kernel or a shifted centre is named.
    """
    from ...analysis.gradcheck import run_gradcheck

    study = study_of(experiment, config_path)
    check_run_outputs(study.config, config_path, plot=plot, csv=csv)
    result = run_gradcheck(study, random_points, seed=study.config.seed, eps=fd_step,
                           atol=atol, rtol=rtol)
    if plot is not None:
        from ...analysis.kernels import derivative_maps
        from ...viz.figures import gradcheck_figure

        maps = derivative_maps(study, result)
        write_figure(lambda: gradcheck_figure(result, maps), plot)
    if csv is not None:
        from ...viz.tables import gradcheck_csv

        write_table(gradcheck_csv(result), csv)
    if json_output:
        print_json(result.to_dict(), study.warnings)
    else:
        from ..views.gradcheck import render_gradcheck  # rich, only for text output
        render_gradcheck(result)
    if result.result != "pass":
        raise typer.Exit(1 if result.result == "fail" else UNRESOLVED_EXIT)
