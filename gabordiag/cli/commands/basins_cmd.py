"""``gabordiag basins``: from which starting angles, with which learning rates,
optimizers and losses, descent recovers the target."""

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer
from rich import box
from rich.table import Table

from ...basins import BasinsResult, run_basins
from ...errors import ConfigError
from ...experiment import parse_option, resolve_config
from ...io import FIGURE_SUFFIXES, check_output_path, write_atomic
from .. import app
from ..common import progress_bar
from ..options import json_flag, plot_option, with_experiment_options
from ..render import out_console, print_json


def parse_lr_range(value: str) -> list[float]:
    """``LOW,HIGH,N``: N learning rates evenly spaced on a log scale."""
    parts = value.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if not (0 < low < high and math.isfinite(high) and 2 <= n <= 50):
            raise ValueError
    except ValueError:
        raise ConfigError(f"--lr-range: invalid value {value!r}; expected LOW,HIGH,N with "
                          "0 < LOW < HIGH and 2 <= N <= 50, e.g. 1e-4,1e-2,5") from None
    return [float(v) for v in np.geomspace(low, high, n)]


def _values(several: dict[str, Any], key: str) -> Optional[list[Any]]:
    raw = several.get(key)
    if not raw:
        return None
    values = [parse_option(key, v) for v in raw]
    return list(dict.fromkeys(values))  # keep order, drop repeats


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
        "the map of start x case coloured by outcome, the loss curve alongside")] = None,
) -> None:
    """Run descents from a grid of starting angles and map the outcomes.

    Compare learning rates (--lr 1e-4 --lr 1e-3, or --lr-range 1e-4,1e-2,5), optimizers
    and losses side by side. Example: gabordiag basins --loss rmse --loss mse --lr 3e-4
    """
    lrs = _values(several, "lr")
    if lr_range is not None:
        if lrs:
            raise ConfigError("--lr-range: give either --lr or --lr-range, not both")
        lrs = parse_lr_range(lr_range)
    optimizers = _values(several, "optimizer")
    losses = _values(several, "loss")
    config, _ = resolve_config(experiment, config_path)
    if plot is not None:
        check_output_path(plot, "--plot", FIGURE_SUFFIXES)
    cases = len(lrs or [0]) * len(optimizers or [0]) * len(losses or [0])
    with progress_bar(cases * config.steps, "basins", enabled=not json_output) as advance:
        result = run_basins(config, starts, lrs, optimizers, losses, progress=advance)
    if plot is not None:
        _write_plot(result, plot)
    if json_output:
        print_json(result.to_dict())
        return
    render_basins(result)


_COLUMNS = (("converged", "recov."), ("cycling", "cycle"), ("local-minimum", "local\nmin"),
            ("stalled", "stall"), ("diverged", "diverged"), ("not-converged", "moving"))


def render_basins(result: BasinsResult) -> None:
    """One row per case: the share of each outcome and the median steps to converge.

    Outcome columns that are 0% in every case are left out."""
    n = len(result.starts)
    summaries = [case.summary() for case in result.cases]
    table = Table(title=f"Outcomes of {n} descents from starts over one period "
                  f"({result.config.steps} steps each)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("case", no_wrap=True)
    shown = [(kind, header) for kind, header in _COLUMNS
             if kind == "converged" or any(_share(s, kind) > 0 for s in summaries)]
    for _, header in [*shown, ("", "median\nsteps")]:
        table.add_column(header, justify="right", no_wrap=True)
    for case, s in zip(result.cases, summaries):
        median = s["median_steps_to_converge"]
        cells = []
        for kind, _ in shown:
            share = _share(s, kind)
            text = f"{share:.0%}"
            if kind == "converged":
                style = "green" if share >= 0.9 else ("yellow" if share >= 0.5 else "red")
                text = f"[{style}]{text}[/{style}]"
            cells.append(text)
        table.add_row(f"{case.loss} {case.optimizer} lr={case.lr:.3g}", *cells,
                      "-" if median is None else f"{median:.0f}")
    out_console.print(table)
    out_console.print("[dim]recov. = converged to the target or an equivalent angle; "
                      "moving = not converged when the steps ran out; engines: "
                      + ", ".join(f"{k}: {v}" for k, v in result.engines.items()) + "[/dim]")


def _share(summary: dict[str, Any], kind: str) -> float:
    if kind == "converged":
        return float(summary["success_rate"])
    return float(summary["fractions"][kind])


def _write_plot(result: BasinsResult, path: Path) -> None:
    from ...landscape import run_landscape
    from ...plotting import basins_figure

    land = run_landscape(result.config, points=720).landscape
    fig = basins_figure(result, land)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
