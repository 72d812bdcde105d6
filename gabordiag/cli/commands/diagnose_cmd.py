"""``gabordiag diagnose``: ranked findings that answer "where does this break down?"."""

import io
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.panel import Panel

from ...diagnose import Diagnosis, diagnose
from ...errors import ConfigError
from ...experiment import resolve_config
from ...io import write_bytes_atomic, write_text_atomic
from .. import app
from ..options import json_flag, with_experiment_options
from ..render import err_console, out_console, print_json

_STYLE = {"high": "bold red", "medium": "yellow", "info": "dim"}


@app.command("diagnose")
@with_experiment_options
def diagnose_command(
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
) -> None:
    """Answer the four questions (is the derivative wrong, is there a reachable minimum,
    is the code wrong, how to debug it) with measured, ranked findings and fixes."""
    config, _ = resolve_config(experiment, config_path)
    if config.learn != ("theta",):
        raise ConfigError("--learn: diagnose studies theta; use --learn theta")
    if report is not None and report.exists() and not report.is_dir():
        raise ConfigError(f"--report: {report} exists and is not a directory")
    status = None
    if not json_output and err_console.is_terminal:
        status = err_console.status("diagnosing")
        status.start()
    try:
        result = diagnose(config, starts, progress=None if status is None else
                          lambda stage: status.update(f"diagnosing: {stage}"))
    finally:
        if status is not None:
            status.stop()
    if report is not None:
        write_report(result, report)
    if json_output:
        print_json(result.to_dict())
        return
    render_diagnosis(result)
    if report is not None:
        out_console.print(f"report written to {report / 'report.md'} and "
                          f"{report / 'report.html'}")


def render_diagnosis(d: Diagnosis) -> None:
    """Findings in rank order, then the short answers."""
    lines = []
    for i, f in enumerate(d.findings, start=1):
        style = _STYLE[f.severity]
        lines.append(f"[{style}]{i}. \\[{f.severity}] {f.id}[/{style}]: {escape(f.message)}"
                     + (f"\n   [bold]fix:[/bold] {escape(f.fix)}" if f.fix else ""))
    out_console.print(Panel("\n".join(lines), title=f"Findings (verdict: {d.run.verdict.kind})",
                            expand=False))
    answers = "\n".join(f"[bold]{q}?[/bold] {a}" for q, a in d.answers.items())
    out_console.print(Panel(answers, title="Answers", expand=False))


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def write_report(d: Diagnosis, directory: Path) -> None:
    """report.md, its PNG figures and a self-contained report.html, each atomically."""
    from ...plotting import basins_figure, landscape_figure, recover_figure, wrap_into_period
    from ...report import html_report, markdown_report

    directory.mkdir(parents=True, exist_ok=True)
    land = d.landscape.landscape
    assert land is not None
    t = d.run.trajectory
    values, losses = wrap_into_period(t.params[:, 0], t.loss, float(land.grid[0]), land.period)
    figures = {
        "landscape": _png(landscape_figure(land, d.config.theta0, d.config.target_theta,
                                           (values, losses), "loss over theta")),
        "trajectory": _png(recover_figure(t, d.config.target.as_dict(), d.run.period, None,
                                          d.run.verdict.kind)),
        "basins": _png(basins_figure(d.basins, land)),
    }
    names = {}
    for name, png in figures.items():
        path = directory / f"{name}.png"
        write_bytes_atomic(path, png)
        names[name] = path.name
    write_text_atomic(directory / "report.md", markdown_report(d, names))
    write_text_atomic(directory / "report.html", html_report(d, figures))
