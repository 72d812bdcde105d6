"""``gabordiag kernel``: the kernels a run uses, and their derivatives."""

from pathlib import Path
from typing import Annotated, Any, Optional

from ..app import app
from ..common import check_run_outputs, study_of, write_figure
from ..options import json_flag, plot_option, with_experiment_options
from ..render import print_json


@app.command("kernel")
@with_experiment_options
def kernel_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    json_output: Annotated[bool, json_flag("gabordiag.kernel/1",
                                            "the kernels as nested lists")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "the kernels as a figure, each titled with its parameters")] = None,
) -> None:
    """Show the kernels a run uses: target, start, and d kernel / d parameter.

    One kernel per learned parameter's derivative, so you can see what theta does; with
    --kernel (and --derivative), yours.
    """
    from ...analysis.kernels import run_kernels

    study = study_of(experiment, config_path)
    check_run_outputs(study.config, config_path, plot=plot)
    result = run_kernels(study)
    if plot is not None:
        from ...viz.figures import kernels_plot

        write_figure(lambda: kernels_plot(result), plot)
    if json_output:
        print_json(result.to_dict(), study.warnings)
        return
    from ..views.kernel import render_kernels  # rich, only for text output
    render_kernels(result, plotted=plot is not None)
