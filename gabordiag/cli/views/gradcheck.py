"""The rich rendering of a gradcheck: one row per derivative, then what is wrong."""

from rich.table import Table

from ...analysis.gradcheck import GradcheckResult
from ..render import out_console

__all__ = ["render_gradcheck"]


def render_gradcheck(result: GradcheckResult) -> None:
    """One row per derivative, then what is wrong with each failing one."""
    table = Table(title=f"Derivatives ({result.derivative_source}) vs central differences "
                  f"(step {result.eps:g}) at {len(result.points)} points",
                  title_justify="left")
    for column in ("derivative", "max abs error", "max rel error", "result"):
        table.add_column(column, justify="right" if "error" in column else "left")
    for c in result.checks:
        table.add_row(f"d {c.what} / d {c.param}", f"{c.max_abs_error:.2e}",
                      f"{c.max_rel_error:.2e}",
                      "[green]pass[/green]" if c.passed else "[bold red]FAIL[/bold red]")
    out_console.print(table)
    out_console.print(f"tolerance: |analytic - numeric| <= {result.atol:g} + {result.rtol:g} "
                      "x |numeric| at every pixel and point")
    for note in result.notes:
        out_console.print(f"[dim]note: {note}[/dim]")
    for c in result.checks:
        if c.passed:
            continue
        thetas = ", ".join(f"{p['theta']:.3f}" for p in c.failing_points[:6])
        line = f"[bold]d {c.what} / d {c.param}[/bold]: fails at theta = {thetas}"
        if c.worst_pixels:
            pixels = ", ".join(f"({r}, {col})" for r, col in c.worst_pixels)
            line += f"; worst pixels (row, col): {pixels}"
        if c.diagnosis:
            line += f"\n  -> {c.diagnosis}"
        out_console.print(line)
    out_console.print("[green]all derivatives agree[/green]" if result.passed else
                      "[bold red]some derivatives disagree[/bold red]")
