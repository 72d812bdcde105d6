"""The rich rendering of a diagnosis, and its report files."""

from datetime import UTC
from pathlib import Path

from rich.markup import escape
from rich.panel import Panel

from ...analysis.diagnose import Diagnosis
from ...analysis.study import Study
from ...io import atomic_directory
from ..render import out_console

__all__ = ["REPORT_FILES", "render_diagnosis", "write_report"]

#: The files ``--report DIR`` writes (the figures are those of gabordiag.viz.report).
REPORT_FIGURES = ("landscape", "trajectory", "basins", "remedies", "kernels", "gradcheck")
REPORT_FILES = ("report.md", "report.html", "config.toml",
                *(f"{name}.png" for name in REPORT_FIGURES))

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


def write_report(d: Diagnosis, directory: Path, study: Study | None = None,
                 command: str = "gabordiag diagnose") -> None:
    """report.md, its PNG figures and a self-contained report.html, all at once: made in
    a temporary directory beside ``directory`` and moved in when every file is written.

    With the ``study``, the kernels and the gradcheck's mismatch maps are drawn too."""
    from datetime import datetime

    from ...config.files import config_to_toml
    from ...viz.report import ReportInfo, html_report, markdown_report, report_figures

    kernels = maps = None
    if study is not None:
        from ...analysis.kernels import derivative_maps, run_kernels

        kernels, maps = run_kernels(study), derivative_maps(study, d.gradcheck)
    figures = report_figures(d, kernels, maps)
    info = ReportInfo(command=command,
                      date=datetime.now(UTC).isoformat(timespec="seconds"))
    markdown = markdown_report(d, {name: f"{name}.png" for name in figures}, info)
    page = html_report(d, figures, info)
    with atomic_directory(directory) as staging:  # the report appears whole or not at all
        for name, png in figures.items():
            (staging / f"{name}.png").write_bytes(png)
        (staging / "report.md").write_text(markdown, encoding="utf-8")
        (staging / "report.html").write_text(page, encoding="utf-8")
        (staging / "config.toml").write_text(config_to_toml(d.config), encoding="utf-8")
