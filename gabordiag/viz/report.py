"""A diagnosis rendered as Markdown and as self-contained HTML (figures embedded).

The report says what produced it (tool version, date, command line, the resolved
config as TOML, which ``--config`` reads back), then the verdict, the findings, the
answers and the numbered debugging recipe computed for the case, every figure, the
gradcheck table, the stationary points and the remedies.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..analysis.diagnose import Diagnosis
from ..config.files import config_to_toml
from .figures import (
    basins_figure,
    gradcheck_figure,
    kernels_plot,
    landscape_plot,
    png_bytes,
    recover_figure,
    remedies_figure,
)

__all__ = ["FIGURES", "ReportInfo", "html_report", "markdown_report", "report_figures"]

FIGURES = {"landscape": "The loss over theta, the run drawn on it",
           "trajectory": "The run over the steps, and why it does what it does",
           "basins": "Outcomes from starts over one period",
           "remedies": "The remedies over the same starts",
           "kernels": "The kernels",
           "gradcheck": "Kernel derivatives against central differences"}


@dataclass(frozen=True)
class ReportInfo:
    """What produced a report: tool version, date (ISO 8601) and command line."""

    command: str
    date: str
    version: str = __version__


def _remedy_rows(d: Diagnosis) -> list[list[str]]:
    rows = []
    for rank, r in enumerate(d.remedies.remedies, start=1):
        median = "-" if r.median_steps is None else f"{r.median_steps:.0f}"
        rows.append([str(rank), r.id, f"{r.success_rate:.0%}", median,
                     ", ".join(r.removes) or "-", ", ".join(r.leaves) or "-", r.why])
    return rows


_REMEDY_HEADER = ["#", "remedy", "recovered", "median steps", "removes", "leaves", "why"]
_GRAD_HEADER = ["derivative", "max abs error", "max rel error", "result", "what is wrong"]
_POINT_HEADER = ["theta (rad)", "degrees", "kind", "loss", "curvature", "note"]


def _grad_rows(d: Diagnosis) -> list[list[str]]:
    def error(value: float | None) -> str:
        return "-" if value is None else f"{value:.2e}"

    verdicts = {"pass": "pass", "fail": "FAIL", "unresolved": "unresolved"}
    return [[f"d {c.what} / d {c.param}", error(c.max_abs_error), error(c.max_rel_error),
             verdicts[c.result], c.diagnosis or ("finite differences do not settle"
                                                if c.result == "unresolved" else "-")]
            for c in d.gradcheck.checks]


def _point_rows(d: Diagnosis) -> list[list[str]]:
    land = d.landscape.landscape
    if land is None:
        return []
    target = land.facts.get("target_value")
    rows = []
    for p in land.stationary_points:
        notes = p.notes(target)
        rows.append([f"{p.value:.4f}", f"{math.degrees(p.value):.1f}", p.kind, f"{p.loss:.4g}",
                     "kink" if p.curvature is None else f"{p.curvature:.4g}",
                     ", ".join(notes) or "-"])
    return rows


def _setup(d: Diagnosis) -> list[str]:
    c = d.config
    return [f"image {c.image} ({c.size}x{c.size}, seed {c.seed})",
            f"kernel {c.ksize}x{c.ksize}, sigma {c.sigma:g}, lambda {c.lambd:g}, "
            f"gamma {c.gamma:g}, psi {c.psi:g}",
            f"target theta {c.target_theta:.4f}, theta0 {c.theta0:.4f}",
            f"loss {c.loss}, optimizer {c.optimizer}, lr {c.lr:g}, momentum {c.momentum:g}, "
            f"{c.steps} steps"]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def markdown_report(d: Diagnosis, figures: dict[str, str], info: ReportInfo | None = None
                    ) -> str:
    """Markdown; ``figures`` maps a figure name to the image file beside the report."""
    lines = ["# gabordiag diagnosis", ""]
    if info is not None:
        lines += [f"- tool: gabordiag {info.version}", f"- date: {info.date}",
                  f"- command: `{info.command}`"]
    lines += ["", "## Setup", ""]
    lines += [f"- {item}" for item in _setup(d)]
    lines += ["", "Resolved config (the `config.toml` beside this report; "
              "`gabordiag diagnose --config config.toml` reruns it):",
              "", "```toml", config_to_toml(d.config).rstrip("\n"), "```"]
    lines += ["", f"**Verdict: {d.run.verdict.kind}.** {d.run.verdict.message}", "",
              "## Findings", ""]
    for i, f in enumerate(d.findings, start=1):
        lines.append(f"{i}. **[{f.severity}] {f.id}**: {f.message}"
                     + (f" — *fix*: {f.fix}" if f.fix else ""))
    lines += ["", "## The four questions", ""]
    lines += [f"- **{q}?** {a}" for q, a in d.answers.items()]
    lines += ["", "## How to debug it: the next commands", ""]
    for i, step in enumerate(d.recipe, start=1):
        lines += [f"{i}. `{step.command}`", f"   shows: {step.shows}"]
    for name, path in figures.items():
        lines += ["", f"## {FIGURES.get(name, name)}", "", f"![{name}]({path})"]
    lines += ["", "## Gradcheck", "", *_md_table(_GRAD_HEADER, _grad_rows(d))]
    lines += ["", "## Stationary points over one period", ""]
    lines += _md_table(_POINT_HEADER, _point_rows(d))
    lines += ["", "## Remedies", "", *_md_table(_REMEDY_HEADER, _remedy_rows(d))]
    return "\n".join(lines) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> list[str]:
    e = html.escape
    return (["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
            + ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            + ["</table>"])


def html_report(d: Diagnosis, figures: dict[str, bytes], info: ReportInfo | None = None
                ) -> str:
    """One HTML file with the PNG figures embedded as data URIs."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>gabordiag diagnosis</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;"
             "line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:0.2em 0.5em;text-align:left}.high{color:#b00}.medium{color:#a60}"
             ".info{color:#555}img{max-width:100%}pre{background:#f4f4f4;padding:0.5em}"
             "</style></head><body>",
             "<h1>gabordiag diagnosis</h1>"]
    if info is not None:
        parts += ["<ul>", f"<li>tool: gabordiag {e(info.version)}</li>",
                  f"<li>date: {e(info.date)}</li>",
                  f"<li>command: <code>{e(info.command)}</code></li>", "</ul>"]
    parts += ["<h2>Setup</h2><ul>"]
    parts += [f"<li>{e(item)}</li>" for item in _setup(d)]
    parts += ["</ul>", "<p>Resolved config (the <code>config.toml</code> beside this "
              "report; <code>gabordiag diagnose --config config.toml</code> reruns it):</p>",
              f"<pre>{e(config_to_toml(d.config))}</pre>"]
    v = d.run.verdict
    parts += [f"<p><strong>Verdict: {e(v.kind)}.</strong> {e(v.message)}</p>",
              "<h2>Findings</h2><ol>"]
    for f in d.findings:
        fix = f" <em>Fix:</em> {e(f.fix)}" if f.fix else ""
        parts.append(f'<li><span class="{e(f.severity)}">[{e(f.severity)}]</span> '
                     f"<strong>{e(f.id)}</strong>: {e(f.message)}{fix}</li>")
    parts += ["</ol>", "<h2>The four questions</h2><ul>"]
    parts += [f"<li><strong>{e(q)}?</strong> {e(a)}</li>" for q, a in d.answers.items()]
    parts += ["</ul>", "<h2>How to debug it: the next commands</h2><ol>"]
    parts += [f"<li><code>{e(step.command)}</code><br>shows: {e(step.shows)}</li>"
              for step in d.recipe]
    parts.append("</ol>")
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts += [f"<h2>{e(FIGURES.get(name, name))}</h2>",
                  f'<img alt="{e(name)}" src="data:image/png;base64,{data}">']
    parts += ["<h2>Gradcheck</h2>", *_html_table(_GRAD_HEADER, _grad_rows(d))]
    parts += ["<h2>Stationary points over one period</h2>",
              *_html_table(_POINT_HEADER, _point_rows(d))]
    parts += ["<h2>Remedies</h2>", *_html_table(_REMEDY_HEADER, _remedy_rows(d))]
    parts += ["</body></html>"]
    return "\n".join(parts) + "\n"


def report_figures(d: Diagnosis, kernels: Any = None, maps: Any = None) -> dict[str, bytes]:
    """The report's figures as PNG bytes, by name (``kernels``: a KernelsResult, ``maps``:
    the gradcheck's derivative maps, each drawn when given)."""
    land = d.landscape.landscape
    assert land is not None
    run_landscape = d.landscape
    if run_landscape.trajectory is None:
        from dataclasses import replace

        run_landscape = replace(run_landscape, trajectory=d.run.trajectory)
    figures = {
        "landscape": png_bytes(landscape_plot(run_landscape)),
        "trajectory": png_bytes(recover_figure(d.run, land.stability)),
        "basins": png_bytes(basins_figure(d.basins, land)),
        "remedies": png_bytes(remedies_figure(d.remedies)),
    }
    if kernels is not None:
        figures["kernels"] = png_bytes(kernels_plot(kernels))
    if maps is not None:
        figures["gradcheck"] = png_bytes(gradcheck_figure(d.gradcheck, maps))
    return figures
