"""``gabordiag layer SPEC``: diagnose your own PyTorch Gabor layer (imports and runs it)."""

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..app import app
from ..common import check_report, check_run_outputs, run_inputs, write_figure
from ..options import json_flag, plot_option, with_experiment_options
from ..render import print_json, print_warning

# the experiment options that apply to a layer (its kernel is its own)
LAYER_OPTIONS = ("image", "seed", "standardize", "target-theta", "theta0", "loss", "loss-eps",
                 "optimizer", "lr", "momentum", "dampening", "nesterov", "betas", "alpha",
                 "eps", "steps")
_PANEL = "Your layer"


def _console(err: bool) -> Any:
    """rich's console for stderr or stdout, made on first use (not for --json)."""
    from ..render import err_console, out_console

    return err_console if err else out_console


@app.command("layer")
@with_experiment_options(only=LAYER_OPTIONS)
def layer_command(
    ctx: typer.Context,
    experiment: dict[str, Any],
    config_path: Optional[Path],
    spec: Annotated[str, typer.Argument(
        metavar="SPEC", help="module:factory or path/to/file.py:factory (a function of no "
        "arguments returning a torch.nn.Module that takes (N, C, H, W)). It is imported and "
        "run.", show_default=False)],
    param: Annotated[Optional[str], typer.Option(
        "--param", help="The layer's orientation parameter, by its name in "
        "named_parameters(). (default: the one called theta)", metavar="NAME",
        rich_help_panel=_PANEL, show_default=False)] = None,
    channel: Annotated[Optional[str], typer.Option(
        "--channel", help="The (out, in) filter to fit and recover. (default: 0,0)",
        metavar="OUT,IN", rich_help_panel=_PANEL, show_default=False)] = None,
    size: Annotated[str, typer.Option(
        "--size", help="Side of synthetic images in pixels (your layer's float64 forward "
        "runs hundreds of times).", metavar="INT", rich_help_panel="Experiment")] = "64",
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Write report.md (with its PNG figure) and a self-contained "
        "report.html into this directory.", metavar="DIR", rich_help_panel="Output")] = None,
    json_output: Annotated[bool, json_flag("gabordiag.layer/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "the filter beside our fitted model, and the loss over the period with the run, "
        "beside gabordiag's kernel at the fit")] = None,
) -> None:
    """Diagnose your own PyTorch Gabor layer: gradient flow to every parameter, the kernel
    it really applies and its convention, autograd against central differences, and the
    recovery experiment through its own forward beside gabordiag's kernel at the fitted
    parameters; then what to change in your code. Needs PyTorch:
    pip install "gabordiag\\[torch]"."""
    import shlex

    from ...analysis.layer import diagnose_layer, require_torch
    from ...config.paths import code_file
    from ...config.resolve import resolve_config
    from ...config.values import channel_pair
    from ...errors import ConfigError
    from ..views.layer import REPORT_FILES

    require_torch()
    # the layer's kernel size is known only once it runs: the size is checked against it
    # there, not against a --ksize it does not have
    config, source = resolve_config({**experiment, "size": size, "boundary": "same"})
    for warning in source.warnings:
        print_warning(warning)
    where = None if channel is None else channel_pair(channel)
    code = code_file(spec)  # the layer's own file: no output may replace it
    inputs = [*run_inputs(config, None), *((("SPEC", code),) if code is not None else ())]
    check_run_outputs(config, None, plot=plot, extra_inputs=tuple(inputs))
    if report is not None:
        check_report(report, REPORT_FILES, inputs, plot)
    status = None
    if not json_output and _console(err=True).is_terminal:
        status = _console(err=True).status("gabordiag layer")
        status.start()
    try:
        # the analysis never prints: what reaches stdout meanwhile is the layer's own
        # printing, which must not mix with ours (--json)
        with contextlib.redirect_stdout(sys.stderr):
            result = diagnose_layer(spec, config, param, where, progress=None
                                    if status is None else
                                    lambda stage: status.update(f"gabordiag layer: {stage}"))
    except SystemExit as exc:  # nothing of ours exits inside the analysis
        raise ConfigError(f"SPEC: your code called sys.exit({exc.code!r})") from None
    finally:
        if status is not None:
            status.stop()
    if plot is not None:
        from ...viz.layer_figures import layer_figure

        write_figure(lambda: layer_figure(result), plot)
    if report is not None:
        from ..views.layer import write_layer_report

        argv = (ctx.obj or {}).get("argv", ())
        write_layer_report(result, report,
                           " ".join(["gabordiag", *(shlex.quote(a) for a in argv)]))
    if json_output:
        print_json(result.to_dict(), source.warnings)
        return
    from ..views.layer import render_layer

    render_layer(result)
    if report is not None:
        _console(err=False).print(f"report written to {report / 'report.md'} and "
                          f"{report / 'report.html'}")
