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
    out_console.print(f"pass: |analytic - numeric| <= {result.atol:g} + {result.rtol:g} "
                      "x |numeric| at every pixel and point")
    out_console.print("[dim]max rel error: kernel, the largest over the points of "
                      "|dK - dK_fd| / |dK_fd| (L2 over the pixels); loss, the largest "
                      "|g - g_fd| over the largest |g_fd|[/dim]")
    for note in result.notes:
        out_console.print(f"[dim]note: {note}[/dim]")
    if result.kernel_comparison is not None:
        out_console.print(f"kernel: {result.kernel_comparison.summary()}")
    for c in result.checks:
        if c.passed:
            continue
        shown = c.failing_points[:6]
        thetas = ", ".join(f"{p['theta']:.3f}" for p in shown)
        more = len(c.failing_points) - len(shown)
        line = (f"[bold]d {c.what} / d {c.param}[/bold]: fails at {len(c.failing_points)} of "
                f"{len(result.points)} points, theta = {thetas}"
                + (f" and {more} more" if more else ""))
        if c.worst_pixels:
            pixels = ", ".join(f"({r}, {col})" for r, col in c.worst_pixels)
            line += f"; worst pixels (row, col): {pixels}"
        if c.diagnosis:
            line += f"\n  -> {c.diagnosis}"
        out_console.print(line)
    out_console.print("[green]all derivatives agree[/green]" if result.passed else
                      "[bold red]some derivatives disagree[/bold red]")
