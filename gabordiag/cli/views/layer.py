"""The rich rendering of a layer diagnosis, and its report files."""

from __future__ import annotations

import math
from datetime import UTC
from pathlib import Path

from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ...analysis.layer.result import LayerDiagnosis
from ...io import atomic_directory
from ..render import out_console
from .recover import VERDICT_STYLE

__all__ = ["REPORT_FILES", "render_layer", "write_layer_report"]

#: the files ``--report DIR`` writes (checked before any work)
REPORT_FILES = ("report.md", "report.html", "layer.png")

_STYLE = {"high": "bold red", "medium": "yellow", "info": "dim"}


def _period(value: float | None) -> str:
    if value is None:
        return "-"
    return "pi" if abs(value - math.pi) < 1e-9 else "2pi" if abs(value - 2 * math.pi) < 1e-9 \
        else f"{value:.4g}"


def _g(value: float) -> str:
    """A fitted value, with rounding noise below 1e-9 shown as 0."""
    return f"{0.0 if abs(value) < 1e-9 else value:.4g}"


def _layer_panel(d: LayerDiagnosis) -> Panel:
    g, lin = d.geometry, d.linearity
    padding = f"{g.padding:g}" + (f" ({g.boundary})" if g.boundary else "")
    linear = (f"yes: output = correlation with the measured kernels ({lin['padding_mode']} "
              f"padding, relative difference {lin['relative_error']:.1e})"
              if lin.get("linear") else "no: not one correlation with the measured kernels")
    fit = d.convention.fit
    o, i = d.channel
    lines = [f"layer       {escape(d.spec)} -> {escape(d.module)}",
             f"channels    {g.in_channels} in, {g.out_channels} out; kernel {g.ksize}x{g.ksize},"
             f" padding {padding}",
             f"linear      {linear}",
             f"filter      ({o}, {i}) is our model at theta {_g(fit.theta)}, lambda "
             f"{_g(fit.lambd)}, sigma {_g(fit.sigma)}, gamma {_g(fit.gamma)}, psi "
             f"{_g(fit.psi)}, amplitude {_g(fit.amplitude)}, centre ({_g(fit.dy)}, "
             f"{_g(fit.dx)}) (fit residual {fit.residual_text}); your parameters:"]
    for m in d.convention.mappings:
        lines.append(f"  {escape(m.param):<12}{escape(m.relation)}"
                     + ("" if m.kind in ("same", "none") else f"  [yellow]({m.kind})[/yellow]"))
    if d.convention.normalisation:
        lines.append(f"  amplitude   {d.convention.normalisation}")
    return Panel("\n".join(lines), title="Your layer (measured from its impulse responses)",
                 expand=False)


def _params_table(d: LayerDiagnosis) -> Table:
    table = Table(title="Gradient flow (backward of a random projection of the output; "
                  "autograd: against central differences)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    for column in ("parameter", "shape", "trained", "grad", "|grad|", "changes kernel",
                   "autograd"):
        table.add_column(column, justify="right" if column == "|grad|" else "left")
    checks = {c.param: c for c in d.derivatives}
    for p in d.flow.params:
        norm = "-" if p.grad_norm is None else f"{p.grad_norm:.4g}"
        c = checks.get(p.name)
        verdict = "-" if c is None else ("[green]agree[/green]" if c.passed else
                                         f"[bold red]{c.pattern or 'FAIL'}[/bold red]")
        role = "yes" if p.changes_kernel else ("bias" if p.used else "no")
        table.add_row(escape(p.name), "x".join(map(str, p.shape)) or "scalar",
                      "yes" if p.requires_grad else "no", p.grad, norm,
                      role + (" [yellow](grid)[/yellow]" if p.grid else ""), verdict)
    return table


def _recovery_table(d: LayerDiagnosis) -> Table | None:
    r = d.recovery
    if r is None:
        return None
    table = Table(title=f"Recovery of {escape(r.param)}: {r.start:.4g} -> target {r.target:.4g}"
                  f" ({d.config.loss}, {d.config.optimizer} lr {d.config.lr:g}, "
                  f"{d.config.steps} steps)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("")
    table.add_column("your layer (torch autograd)")
    table.add_column("gabordiag's kernel at the fit")
    ref = r.reference_verdict

    def verdict(kind: str) -> str:
        style = VERDICT_STYLE.get(kind, "")
        return f"[{style}]{kind}[/{style}]" if style else kind

    table.add_row("verdict", verdict(r.verdict.kind), verdict(ref.kind) if ref else "-")
    table.add_row("period", _period(r.landscape.period), _period(r.reference_period))
    table.add_row("minima per period (spurious)",
                  f"{len(r.landscape.minima)} ({r.landscape.spurious_minima})",
                  "-" if r.reference_minima is None else
                  f"{r.reference_minima} ({r.reference_spurious})")
    table.add_row("final loss", f"{r.trajectory.loss[-1]:.4g}",
                  "-" if r.reference_final_loss is None else f"{r.reference_final_loss:.4g}")
    return table


def render_layer(d: LayerDiagnosis) -> None:
    """The layer, its parameters, the recovery side by side, the findings and what to
    change."""
    out_console.print(_layer_panel(d))
    out_console.print(_params_table(d))
    table = _recovery_table(d)
    if table is not None:
        out_console.print(table)
    lines = []
    for n, f in enumerate(d.findings, start=1):
        style = _STYLE[f.severity]
        lines.append(f"[{style}]{n}. \\[{f.severity}] {f.id}[/{style}]: {escape(f.message)}")
    title = "Findings" + (": a clean bill" if d.clean else "")
    out_console.print(Panel("\n".join(lines), title=title, expand=False))
    to_change = [f for f in d.findings if f.fix and f.severity != "info"]
    if to_change:
        steps = "\n".join(f"{n}. [bold]{f.id}[/bold]: {escape(f.fix or '')}"
                          for n, f in enumerate(to_change, start=1))
    else:
        steps = "nothing: no finding points at your code"
        follow = [f for f in d.findings if f.fix]
        if follow:
            steps += "\n" + "\n".join(f"next ({f.id}): {escape(f.fix or '')}" for f in follow)
    out_console.print(Panel(steps, title="What to change in your code", expand=False))


def write_layer_report(d: LayerDiagnosis, directory: Path, command: str) -> None:
    """report.md, its PNG figure and a self-contained report.html, each atomically."""
    from datetime import datetime

    from ...viz.figures import png_bytes
    from ...viz.layer_figures import layer_figure
    from ...viz.layer_report import LayerReportInfo, layer_html, layer_markdown

    png = png_bytes(layer_figure(d))
    info = LayerReportInfo(command=command, date=datetime.now(UTC).isoformat(timespec="seconds"))
    markdown, page = layer_markdown(d, "layer.png", info), layer_html(d, png, info)
    with atomic_directory(directory) as staging:  # the report appears whole or not at all
        (staging / "layer.png").write_bytes(png)
        (staging / "report.md").write_text(markdown, encoding="utf-8")
        (staging / "report.html").write_text(page, encoding="utf-8")
