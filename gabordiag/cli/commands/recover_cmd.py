"""``gabordiag recover``: reproduce the recovery experiment and judge the run."""

import math
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
from rich import box
from rich.panel import Panel
from rich.table import Table

from ...experiment import Config, resolve_config
from ...io import FIGURE_SUFFIXES, check_output_path, write_atomic, write_text_atomic
from ...recover import RecoverResult, kernel_description, recover, theta_curve
from ...trajectory import loss_jumps
from .. import app
from ..common import progress_bar
from ..options import csv_option, json_flag, plot_option, with_experiment_options
from ..render import fmt, out_console, print_json

_VERDICT_STYLE = {"converged": "green", "converged-equivalent": "green",
                  "local-minimum": "yellow", "cycling": "red", "stalled": "yellow",
                  "diverged": "red", "not-converged": "yellow"}


@app.command()
@with_experiment_options
def recover_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    json_output: Annotated[bool, json_flag("gabordiag.recover/1")] = False,
    plot: Annotated[Optional[Path], plot_option(
        "a figure: loss and theta over the steps, the run on the loss curve")] = None,
    csv: Annotated[Optional[Path], csv_option("the trajectory")] = None,
) -> None:
    """Run the descent and say what it did: converged, cycling, stuck, diverged.

    With no options this reproduces the reference case: target theta = pi/4, start at
    -pi/4, RMSE loss, plain SGD. Example: gabordiag recover --theta0 -pi/4 --loss mse
    --lr 3e-4
    """
    config, _ = resolve_config(experiment, config_path)
    if plot is not None:
        check_output_path(plot, "--plot", FIGURE_SUFFIXES)
    if csv is not None:
        check_output_path(csv, "--csv")
    with progress_bar(config.steps, "descent", enabled=not json_output) as advance:
        result = recover(config, progress=advance)
    if plot is not None:
        _write_plot(result, plot)
    if csv is not None:
        write_text_atomic(csv, trajectory_csv(result))
    if json_output:
        print_json(result.to_dict())
        return
    render_recover(result)


recover_command.__name__ = "recover"


def _write_plot(result: RecoverResult, path: Path) -> None:
    from ...plotting import recover_figure

    curve = theta_curve(result) if "theta" in result.config.learn else None
    title = f"{result.verdict.kind}: {result.config.loss}, {result.config.optimizer} " \
            f"lr={result.config.lr:g}"
    fig = recover_figure(result.trajectory, result.config.target.as_dict(), result.period,
                         curve, title)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))


def trajectory_csv(result: RecoverResult) -> str:
    """step, the learned parameters, loss, gradients, step size."""
    t = result.trajectory
    header = ["step", *t.names, "loss", *(f"grad_{n}" for n in t.names), "step_size"]
    sizes = np.append(t.step_sizes(), np.nan)
    rows = [",".join(header)]
    for i in range(len(t.loss)):
        values = [*t.params[i], t.loss[i], *t.grads[i], sizes[i]]
        rows.append(",".join([str(i), *(repr(float(v)) for v in values)]))
    return "\n".join(rows) + "\n"


def _angle(value: float) -> str:
    return f"{value:.4f} ({math.degrees(value):.1f}°)"


def setup_panel(config: Config, engine: str, period: Optional[float]) -> Panel:
    """The experiment in one panel."""
    image = config.image if config.image not in ("pink", "white", "grating") else \
        f"{config.image} {config.size}x{config.size}, seed {config.seed}"
    period_text = "n/a (psi is learned)" if period is None else \
        ("pi (psi = 0 mod pi: g(theta + pi) = g(theta))" if abs(period - math.pi) < 1e-12
         else "2pi (your kernel's symmetry is not known)" if config.kernel
         else "2pi (psi != 0 mod pi)")
    opt = config.optimizer_settings
    hyper = {"sgd": f"momentum {opt.momentum:g}, dampening {opt.dampening:g}, "
                    f"nesterov {'on' if opt.nesterov else 'off'}",
             "rmsprop": f"alpha {opt.alpha:g}, eps {opt.eps:g}, momentum {opt.momentum:g}",
             "adam": f"betas ({opt.betas[0]:g}, {opt.betas[1]:g}), eps {opt.eps:g}"}[opt.name]
    start = config.start.as_dict()
    start_text = ", ".join(
        f"{n} {_angle(start[n]) if n in ('theta', 'psi') else format(start[n], 'g')}"
        for n in config.learn)
    lines = [
        f"image      {image}{'' if config.standardize else ' (not standardised)'}",
        f"kernel     {config.ksize}x{config.ksize}, sigma {config.sigma:g}, "
        f"lambda {config.lambd:g}, gamma {config.gamma:g}, psi {config.psi:g}",
        f"target     theta {_angle(config.target_theta)}",
        f"start      {start_text}",
        f"learned    {', '.join(config.learn)}",
        f"loss       {config.loss}" + (f" (eps {config.loss_eps:g})"
                                       if config.loss == "rmse-eps" else ""),
        f"optimizer  {opt.name}, lr {opt.lr:g}, {hyper}, {config.steps} steps",
        f"layer      {config.op}, {config.boundary} boundary, engine {engine}",
        f"kernel     {kernel_description(config, engine)}",
        f"period     {period_text}",
    ]
    return Panel("\n".join(lines), title="Setup", expand=False)


def _rows_to_show(loss: np.ndarray, head: int = 5, tail: int = 5, jumps: int = 3) -> list[int]:
    """The first and last steps, and the first jumps with the step before each."""
    n = len(loss)
    chosen = set(range(min(head, n))) | set(range(max(0, n - tail), n))
    for i in loss_jumps(loss)[:jumps]:
        chosen |= {int(i) - 1, int(i)}
    return sorted(chosen)


def trajectory_table(result: RecoverResult) -> Table:
    """First steps, the steps where the loss jumps up (x2 or more), last steps."""
    t = result.trajectory
    n_jumps = len(loss_jumps(t.loss))
    title = (f"Trajectory: first steps, the first loss jumps (x2 or more; {n_jumps} in all), "
             "last steps" if n_jumps else "Trajectory: first and last steps")
    compact = len(t.names) > 1  # several parameters: fit the columns in 80 characters
    period = result.period
    show_mod = period is not None and len(t.names) <= 2
    table = Table(title=title, title_justify="left",
                  box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
                  pad_edge=not compact, collapse_padding=compact)
    table.add_column("step", justify="right", no_wrap=True)
    for name in t.names:
        table.add_column(f"{name}", justify="right", no_wrap=True)
        if name == "theta" and period is not None and show_mod:
            label = "pi" if abs(period - math.pi) < 1e-12 else "2pi"
            table.add_column(f"theta mod {label}", justify="right")
    table.add_column("loss", justify="right", no_wrap=True)
    for name in t.names:
        table.add_column(f"g_{name}" if compact else f"d loss/d {name}", justify="right",
                         no_wrap=True)
    table.add_column("step" if compact else "step size", justify="right", no_wrap=True)
    sizes = np.append(t.step_sizes(), np.nan)
    previous = -1
    for i in _rows_to_show(t.loss):
        if previous >= 0 and i != previous + 1:
            table.add_row("…", *[""] * (len(table.columns) - 1))
        cells = [str(i)]
        for j, name in enumerate(t.names):
            cells.append(fmt(t.params[i, j]))
            if name == "theta" and show_mod:
                cells.append(fmt(float(t.params[i, j] % result.period)))
        loss_text = fmt(t.loss[i])
        if i > 0 and t.loss[i] > 2.0 * t.loss[i - 1]:
            loss_text = f"[red]{loss_text} ↑[/red]"
        cells.append(loss_text)
        cells.extend(fmt(t.grads[i, j]) for j in range(len(t.names)))
        cells.append("" if np.isnan(sizes[i]) else fmt(sizes[i]))
        table.add_row(*cells)
        previous = i
    return table


def render_recover(result: RecoverResult) -> None:
    """The setup, the trajectory table, gradient magnitudes and the verdict."""
    console = out_console
    console.print(setup_panel(result.config, result.engine.name, result.period))
    console.print(trajectory_table(result))
    g = result.gradient
    grad_lines = [f"at the start  {fmt(g['start'])}" if g["start"] is not None else "",
                  f"over the run  {fmt(g['min'])} .. {fmt(g['max'])}" if g["min"] is not None
                  else "",
                  f"near the end  {fmt(g['end_median'])} (median of the last steps)"
                  if g["end_median"] is not None else ""]
    if g.get("note"):
        grad_lines.append(f"[bold]{g['note']}[/bold]")
    console.print(Panel("\n".join(line for line in grad_lines if line),
                        title="Gradient magnitude", expand=False))
    v = result.verdict
    style = _VERDICT_STYLE.get(v.kind, "white")
    evidence = "\n".join(f"  {key}: {_evidence_value(value)}"
                         for key, value in sorted(v.evidence.items()))
    console.print(Panel(f"[bold {style}]{v.kind}[/bold {style}]\n{v.message}\n\n"
                        f"[dim]evidence[/dim]\n{evidence}", title="Verdict", expand=False))


def _evidence_value(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_evidence_value(v)}" for k, v in value.items())
    return str(value)
