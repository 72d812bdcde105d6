"""A diagnosis rendered as Markdown and as self-contained HTML (figures embedded)."""

from __future__ import annotations

import base64
import html

from ..analysis.diagnose import Diagnosis
from .figures import (
    basins_figure,
    landscape_figure,
    png_bytes,
    recover_figure,
    wrap_into_period,
)

__all__ = ["html_report", "markdown_report", "report_figures"]

FIGURES = {"landscape": "The loss over theta, the run drawn on it",
           "trajectory": "Loss and theta over the steps",
           "basins": "Outcomes from starts over one period"}


def _remedy_rows(d: Diagnosis) -> list[list[str]]:
    rows = []
    for rank, r in enumerate(d.remedies.remedies, start=1):
        median = "-" if r.median_steps is None else f"{r.median_steps:.0f}"
        rows.append([str(rank), r.id, f"{r.success_rate:.0%}", median,
                     ", ".join(r.removes) or "-", ", ".join(r.leaves) or "-", r.why])
    return rows


_REMEDY_HEADER = ["#", "remedy", "recovered", "median steps", "removes", "leaves", "why"]


def _setup(d: Diagnosis) -> list[str]:
    c = d.config
    return [f"image {c.image} ({c.size}x{c.size}, seed {c.seed})",
            f"kernel {c.ksize}x{c.ksize}, sigma {c.sigma:g}, lambda {c.lambd:g}, "
            f"gamma {c.gamma:g}, psi {c.psi:g}",
            f"target theta {c.target_theta:.4f}, theta0 {c.theta0:.4f}",
            f"loss {c.loss}, optimizer {c.optimizer}, lr {c.lr:g}, momentum {c.momentum:g}, "
            f"{c.steps} steps"]


def markdown_report(d: Diagnosis, figures: dict[str, str]) -> str:
    """Markdown; ``figures`` maps a figure name to the image file beside the report."""
    lines = ["# gabordiag diagnosis", "", "## Setup", ""]
    lines += [f"- {item}" for item in _setup(d)]
    lines += ["", f"**Verdict: {d.run.verdict.kind}.** {d.run.verdict.message}", "",
              "## Findings", ""]
    for i, f in enumerate(d.findings, start=1):
        lines.append(f"{i}. **[{f.severity}] {f.id}**: {f.message}"
                     + (f" — *fix*: {f.fix}" if f.fix else ""))
    lines += ["", "## The four questions", ""]
    lines += [f"- **{q}?** {a}" for q, a in d.answers.items()]
    for name, path in figures.items():
        lines += ["", f"## {FIGURES.get(name, name)}", "", f"![{name}]({path})"]
    lines += ["", "## Remedies", "", "| " + " | ".join(_REMEDY_HEADER) + " |",
              "|" + "---|" * len(_REMEDY_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _remedy_rows(d)]
    return "\n".join(lines) + "\n"


def html_report(d: Diagnosis, figures: dict[str, bytes]) -> str:
    """One HTML file with the PNG figures embedded as data URIs."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>gabordiag diagnosis</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;"
             "line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:0.2em 0.5em;text-align:left}.high{color:#b00}.medium{color:#a60}"
             ".info{color:#555}img{max-width:100%}</style></head><body>",
             "<h1>gabordiag diagnosis</h1>", "<h2>Setup</h2><ul>"]
    parts += [f"<li>{e(item)}</li>" for item in _setup(d)]
    v = d.run.verdict
    parts += ["</ul>", f"<p><strong>Verdict: {e(v.kind)}.</strong> {e(v.message)}</p>",
              "<h2>Findings</h2><ol>"]
    for f in d.findings:
        fix = f" <em>Fix:</em> {e(f.fix)}" if f.fix else ""
        parts.append(f'<li><span class="{e(f.severity)}">[{e(f.severity)}]</span> '
                     f"<strong>{e(f.id)}</strong>: {e(f.message)}{fix}</li>")
    parts += ["</ol>", "<h2>The four questions</h2><ul>"]
    parts += [f"<li><strong>{e(q)}?</strong> {e(a)}</li>" for q, a in d.answers.items()]
    parts.append("</ul>")
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts += [f"<h2>{e(FIGURES.get(name, name))}</h2>",
                  f'<img alt="{e(name)}" src="data:image/png;base64,{data}">']
    parts += ["<h2>Remedies</h2><table><tr>"
              + "".join(f"<th>{e(h)}</th>" for h in _REMEDY_HEADER) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>"
              for row in _remedy_rows(d)]
    parts += ["</table>", "</body></html>"]
    return "\n".join(parts) + "\n"


def report_figures(d: Diagnosis) -> dict[str, bytes]:
    """The report's figures as PNG bytes, by name."""
    land = d.landscape.landscape
    assert land is not None
    t = d.run.trajectory
    values, losses = wrap_into_period(t.params[:, 0], t.loss, float(land.grid[0]), land.period)
    return {
        "landscape": png_bytes(landscape_figure(land, d.config.theta0, d.config.target_theta,
                                                (values, losses), "loss over theta")),
        "trajectory": png_bytes(recover_figure(t, d.config.target.as_dict(), d.run.period,
                                               None, d.run.verdict.kind)),
        "basins": png_bytes(basins_figure(d.basins, land)),
    }
