"""``gabordiag check``: recoverability expectations as a CI regression check."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..app import app
from ..common import progress_bar
from ..options import ALLOW_CODE, json_flag
from ..render import print_json, print_warning


@app.command("check")
def check_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Experiment TOML files, or directories searched for them.",
        show_default=False, metavar="PATH")],
    junit: Annotated[Optional[Path], typer.Option(
        "--junit", help="Write JUnit XML for CI systems.", metavar="FILE")] = None,
    json_output: Annotated[bool, json_flag("gabordiag.check/1")] = False,
    allow_code: ALLOW_CODE = False,
) -> None:
    """Run each file's \\[expect] table; exit 0 when all hold, 1 when any fails, 2 on a
    usage or config error.

    Example \\[expect] table: verdict = "converged", max_final_error = 1e-3,
    period = "pi", min_success_rate = 0.9, max_stable_lr_at_least = 4e-4.

    A file that names code (kernel = "file.py:function") is refused unless --allow-code:
    checking a pull request's configs must not run the code they name.
    """
    from ...analysis.check import check_inputs, collect_files, run_checks
    from ...io import Output, check_outputs, write_text_atomic

    files = collect_files(paths)
    if junit is not None:  # before any work; not over a checked file or what it reads
        check_outputs([Output("--junit", junit)], check_inputs(files))
    with progress_bar(len(files), "check", enabled=not json_output, min_total=2) as advance:
        report = run_checks(files, progress=advance, allow_code=allow_code)
    for warning in report.warnings:
        print_warning(warning)
    if junit is not None:
        from ...viz.junit import to_junit

        write_text_atomic(junit, to_junit(report.files, report.seconds))
    if json_output:
        print_json(report.to_dict(), report.warnings)
    else:
        from ..views.check import render_checks  # rich, only for text output
        render_checks(report)
    if not report.passed:
        raise typer.Exit(1)
