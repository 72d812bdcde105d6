"""A layer diagnosis as Markdown and as self-contained HTML (the figure embedded): what
produced it, the findings, the measurements, and at the end what to change in the
code, per finding."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

from .. import __version__
from ..analysis.layer.result import LayerDiagnosis

__all__ = ["LayerReportInfo", "layer_html", "layer_markdown"]


@dataclass(frozen=True)
class LayerReportInfo:
    """What produced a report: tool version, date (ISO 8601) and command line."""

    command: str
    date: str
    version: str = __version__


def _sections(d: LayerDiagnosis) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the measurement tables."""
    checks = {c.param: c for c in d.derivatives}
    params = []
    for p in d.flow.params:
        c = checks.get(p.name)
        params.append([p.name, "x".join(map(str, p.shape)) or "scalar",
                       "yes" if p.requires_grad else "no",
                       p.grad if p.grad_norm is None else f"{p.grad} ({p.grad_norm:.3g})",
                       f"{p.kernel_effect:.2e}", p.grid or "-",
                       "-" if c is None else ("agree" if c.passed else str(c.pattern))])
    mapping = [[m.param, f"{m.value:.6g}", m.ours or "-", m.relation, m.kind]
               for m in d.convention.mappings]
    fit = d.convention.fit
    fitted = [[name, f"{value:.6g}"] for name, value in fit.to_dict().items()]
    sections = [("Gradient flow", ["parameter", "shape", "requires grad", "grad",
                                   "kernel change (nudge 1e-3)", "grid", "autograd vs central"],
                 params),
                (f"Effective kernel of filter {d.channel}: our model fitted", ["", "value"],
                 fitted),
                ("Your parameters in our convention", ["yours", "value", "ours", "relation",
                                                       "kind"], mapping)]
    r = d.recovery
    if r is not None:
        ref = r.reference_verdict
        rows = [["verdict", r.verdict.kind, ref.kind if ref else "-"],
                ["period", f"{r.landscape.period:.6g}",
                 "-" if r.reference_period is None else f"{r.reference_period:.6g}"],
                ["minima per period (spurious)",
                 f"{len(r.landscape.minima)} ({r.landscape.spurious_minima})",
                 "-" if r.reference_minima is None else
                 f"{r.reference_minima} ({r.reference_spurious})"],
                ["final loss", f"{r.trajectory.loss[-1]:.4g}",
                 "-" if r.reference_final_loss is None else f"{r.reference_final_loss:.4g}"],
                ["message", r.verdict.message, ref.message if ref else r.reference_note]]
        sections.append((f"Recovery of {r.param}: {r.start:.4g} -> {r.target:.4g}",
                         ["", "your layer", "gabordiag's kernel at the fit"], rows))
    return sections


def layer_markdown(d: LayerDiagnosis, figure: str, info: LayerReportInfo) -> str:
    """Markdown; ``figure`` is the PNG file beside the report."""
    lines = ["# gabordiag layer diagnosis", "", f"- tool: gabordiag {info.version}",
             f"- date: {info.date}", f"- command: `{info.command}`",
             f"- layer: `{d.spec}` ({d.module}); it was imported and run", "",
             "## Findings", ""]
    for n, f in enumerate(d.findings, start=1):
        lines.append(f"{n}. **[{f.severity}] {f.id}**: {f.message}")
    lines += ["", "## The kernel and the landscape", "", f"![layer]({figure})"]
    for title, header, rows in _sections(d):
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    lines += ["", "## What to change in your code", ""]
    fixes = [f for f in d.findings if f.fix and f.severity != "info"]
    lines += [f"{n}. **{f.id}**: {f.fix}" for n, f in enumerate(fixes, start=1)] or \
        ["Nothing: no finding points at your code."]
    return "\n".join(lines) + "\n"


def layer_html(d: LayerDiagnosis, png: bytes, info: LayerReportInfo) -> str:
    """One HTML file with the figure embedded as a data URI."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>gabordiag layer diagnosis</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;"
             "line-height:1.4}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:0.2em 0.5em;text-align:left}.high{color:#b00}.medium{color:#a60}"
             ".info{color:#555}img{max-width:100%}</style></head><body>",
             "<h1>gabordiag layer diagnosis</h1><ul>",
             f"<li>tool: gabordiag {e(info.version)}</li>", f"<li>date: {e(info.date)}</li>",
             f"<li>command: <code>{e(info.command)}</code></li>",
             f"<li>layer: <code>{e(d.spec)}</code> ({e(d.module)}); it was imported and "
             "run</li></ul>", "<h2>Findings</h2><ol>"]
    parts += [f'<li><span class="{e(f.severity)}">[{e(f.severity)}]</span> '
              f"<strong>{e(f.id)}</strong>: {e(f.message)}</li>" for f in d.findings]
    data = base64.b64encode(png).decode("ascii")
    parts += ["</ol>", "<h2>The kernel and the landscape</h2>",
              f'<img alt="layer" src="data:image/png;base64,{data}">']
    for title, header, rows in _sections(d):
        parts += [f"<h2>{e(title)}</h2>", "<table><tr>"
                  + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("<h2>What to change in your code</h2><ol>")
    fixes = [f for f in d.findings if f.fix and f.severity != "info"]
    parts += [f"<li><strong>{e(f.id)}</strong>: {e(f.fix or '')}</li>" for f in fixes] or \
        ["<li>Nothing: no finding points at your code.</li>"]
    parts.append("</ol></body></html>")
    return "\n".join(parts) + "\n"
