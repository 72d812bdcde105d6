"""The rich rendering of a diagnosis, and its report files."""

from pathlib import Path

from rich.markup import escape
from rich.panel import Panel

from ...analysis.diagnose import Diagnosis
from ...io import make_directory, write_bytes_atomic, write_text_atomic
from ..render import out_console

__all__ = ["render_diagnosis", "write_report"]

_STYLE = {"high": "bold red", "medium": "yellow", "info": "dim"}


def render_diagnosis(d: Diagnosis) -> None:
    """Findings in rank order, then the short answers."""
    lines = []
    for i, f in enumerate(d.findings, start=1):
        style = _STYLE[f.severity]
        lines.append(f"[{style}]{i}. \\[{f.severity}] {f.id}[/{style}]: {escape(f.message)}"
                     + (f"\n   [bold]fix:[/bold] {escape(f.fix)}" if f.fix else ""))
    out_console.print(Panel("\n".join(lines), title=f"Findings (verdict: {d.run.verdict.kind})",
                            expand=False))
    answers = "\n".join(f"[bold]{q}?[/bold] {escape(a)}" for q, a in d.answers.items())
    out_console.print(Panel(answers, title="Answers", expand=False))
    if d.recipe:
        steps = "\n".join(f"[bold]{i}.[/bold] {escape(step.command)}\n   [dim]shows:[/dim] "
                          f"{escape(step.shows)}" for i, step in enumerate(d.recipe, start=1))
        out_console.print(Panel(steps, title="How to debug it: the next commands",
                                expand=False))


def write_report(d: Diagnosis, directory: Path) -> None:
    """report.md, its PNG figures and a self-contained report.html, each atomically."""
    from ...viz.report import html_report, markdown_report, report_figures

    figures = report_figures(d)
    make_directory(directory)
    names = {}
    for name, png in figures.items():
        path = directory / f"{name}.png"
        write_bytes_atomic(path, png)
        names[name] = path.name
    write_text_atomic(directory / "report.md", markdown_report(d, names))
    write_text_atomic(directory / "report.html", html_report(d, figures))
