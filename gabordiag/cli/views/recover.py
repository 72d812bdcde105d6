"""The rich rendering of a recover result: setup, trajectory table, gradient, verdict."""

import math
from typing import Any, Optional

import numpy as np
from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ...analysis.recover import RecoverResult
from ...config.model import Config
from ...core.kernel import period_label
from ...descent.verdicts import loss_jumps
from ..render import fmt, out_console
from .fit import Col, fitted_table

__all__ = ["render_recover", "setup_panel", "trajectory_table"]

VERDICT_STYLE = {"converged": "green", "converged-equivalent": "green",
                 "local-minimum": "yellow", "cycling": "red", "stalled": "yellow",
                 "diverged": "red", "not-converged": "yellow"}


def _angle(value: float) -> str:
    return f"{value:.4f} ({math.degrees(value):.1f}°)"


def setup_panel(config: Config, engine: str, period: Optional[float], kernel: str,
                reason: str = "") -> Panel:
    """The experiment in one panel."""
    image = config.image if config.image not in ("pink", "white", "grating") else \
        f"{config.image} {config.size}x{config.size}, seed {config.seed}"
    if period is None:
        period_text = "n/a (psi is learned)"
    elif config.kernel:
        period_text = f"{period_label(period)} ({reason})"
    else:
        period_text = ("pi (psi = 0 mod pi: g(theta + pi) = g(theta))"
                       if period_label(period) == "pi" else "2pi (psi != 0 mod pi)")
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
        f"image      {escape(image)}{'' if config.standardize else ' (not standardised)'}",
        f"kernel     {config.ksize}x{config.ksize}, sigma {config.sigma:g}, "
        f"lambda {config.lambd:g}, gamma {config.gamma:g}, psi {config.psi:g}",
        f"target     theta {_angle(config.target_theta)}",
        f"start      {start_text}",
        f"learned    {', '.join(config.learn)}",
        f"loss       {config.loss}" + (f" (eps {config.loss_eps:g})"
                                       if config.loss == "rmse-eps" else ""),
        f"optimizer  {opt.name}, lr {opt.lr:g}, {hyper}, {config.steps} steps",
        f"layer      {config.op}, {config.boundary} boundary, engine {engine}",
        f"kernel     {escape(kernel)}",
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


def trajectory_table(result: RecoverResult, console: Any = None) -> Table:
    """First steps, the steps where the loss jumps up (x2 or more), last steps; on a
    narrow terminal the headers fold and the least needed columns are left out (the
    title says which)."""
    t = result.trajectory
    n_jumps = len(loss_jumps(t.loss))
    title = (f"Trajectory: first steps, the first loss jumps (x2 or more; {n_jumps} in all), "
             "last steps" if n_jumps else "Trajectory: first and last steps")
    compact = len(t.names) > 1  # several parameters: fit the columns in 80 characters
    period = result.period
    show_mod = period is not None and len(t.names) <= 2
    cols = [Col("step")]
    for name in t.names:
        cols.append(Col(name))
        if name == "theta" and period is not None and show_mod:
            label = period_label(period)
            cols.append(Col(f"theta mod {label}", f"theta\nmod {label}", drop=2))
    cols.append(Col("loss"))
    for name in t.names:
        cols.append(Col(f"g_{name}" if compact else f"d loss/d {name}",
                        f"g_{name}" if compact else f"d loss/\nd {name}", drop=3))
    cols.append(Col("step" if compact else "step size", "step\nsize", drop=1))
    sizes = np.append(t.step_sizes(), np.nan)
    rows: list[list[str]] = []
    previous = -1
    for i in _rows_to_show(t.loss):
        if previous >= 0 and i != previous + 1:
            rows.append(["…", *[""] * (len(cols) - 1)])
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
        rows.append(cells)
        previous = i
    table, dropped = fitted_table(console or out_console, cols, rows, title=title,
                                  title_justify="left",
                                  box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
                                  pad_edge=not compact, collapse_padding=compact)
    if dropped:
        table.caption = (f"left out at this width: {', '.join(dropped)} "
                         "(--csv FILE has every column)")
        table.caption_justify = "left"
    return table


def render_recover(result: RecoverResult) -> None:
    """The setup, the trajectory table, gradient magnitudes and the verdict."""
    console = out_console
    console.print(setup_panel(result.config, result.engine.name, result.period, result.kernel,
                              result.period_reason))
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
    style = VERDICT_STYLE.get(v.kind, "white")
    evidence = "\n".join(f"  {key}: {_evidence_value(value)}"
                         for key, value in sorted(v.evidence.items()))
    console.print(Panel(f"[bold {style}]{v.kind}[/bold {style}]\n{v.message}\n\n"
                        f"[dim]evidence[/dim]\n{evidence}", title="Verdict", expand=False))


def _evidence_value(value: Any) -> str:
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_evidence_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_evidence_value(v) for v in value) + "]"
    return str(value)
