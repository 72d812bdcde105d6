"""``gabordiag diagnose``: ranked findings that answer "where does this break down?"."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_report, check_run_outputs, run_inputs, study_of, write_figure
from ..options import json_flag, plot_option, with_experiment_options
from ..render import print_json


def _command_line(ctx: typer.Context) -> str:
    """The command as typed (for the report): the arguments :func:`gabordiag.cli.main`
    was given, which are ``sys.argv`` only when it runs as the console script."""
    import shlex

    argv = (ctx.obj or {}).get("argv", ())
    return " ".join(["gabordiag", *(shlex.quote(a) for a in argv)])


@app.command("diagnose")
@with_experiment_options
def diagnose_command(
    ctx: typer.Context,
    experiment: dict[str, Any],
    config_path: Optional[Path],
    starts: Annotated[int, typer.Option(
        "--starts", min=4, max=10_000, help="Starting angles for the basins sweep and the "
        "remedies.", rich_help_panel="Diagnosis")] = 72,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Write report.md (with PNG figures beside it) and a "
        "self-contained report.html into this directory.", metavar="DIR",
        rich_help_panel="Output")] = None,
    json_output: Annotated[bool, json_flag("gabordiag.diagnose/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "one page: the run on the loss over theta, the mechanism (return map, the loss "
        "around the minimum) and the remedies")] = None,
) -> None:
    """Answer the four questions (is the derivative wrong, is there a reachable minimum,
    is the code wrong, how to debug it) with measured, ranked findings and fixes."""
    from ...analysis.diagnose import diagnose

    study = study_of(experiment, config_path)
    check_run_outputs(study.config, config_path, plot=plot)
    if report is not None:  # every file of the report, before any work
        from ..views.diagnose import REPORT_FILES

        check_report(report, REPORT_FILES, run_inputs(study.config, config_path), plot)
    status = None
    if not json_output:
        from ..render import err_console

        if err_console.is_terminal:
            status = err_console.status("diagnosing")
            status.start()
    try:
        result = diagnose(study, starts, progress=None if status is None else
                          lambda stage: status.update(f"diagnosing: {stage}"))
    finally:
        if status is not None:
            status.stop()
    if plot is not None:
        from ...analysis.stability import stability
        from ...viz.figures import diagnosis_figure

        stable = stability(study, "theta")
        write_figure(lambda: diagnosis_figure(result, stable), plot)
    if report is not None:
        from ..views.diagnose import write_report

        write_report(result, report, study, _command_line(ctx))
    if json_output:
        print_json(result.to_dict(), study.warnings)
        return
    from ..views.diagnose import render_diagnosis  # rich, only for text output

    render_diagnosis(result)
    if report is not None:
        from ..render import out_console

        out_console.print(f"report written to {report / 'report.md'} and "
                          f"{report / 'report.html'}")
