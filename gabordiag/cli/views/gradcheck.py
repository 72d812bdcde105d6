"""The rich rendering of a gradcheck: one row per derivative, then what is wrong."""

from rich.markup import escape
from rich.table import Table

from ...analysis.gradcheck import DerivativeCheck, GradcheckResult
from ..render import out_console

__all__ = ["render_gradcheck"]

_RESULT = {"pass": "[green]pass[/green]", "fail": "[bold red]FAIL[/bold red]",
           "unresolved": "[yellow]unresolved[/yellow]"}


def _error(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def render_gradcheck(result: GradcheckResult) -> None:
    """One row per derivative, then what is wrong with each failing one and why each
    unresolved one could not be checked."""
    smallest = min(step for c in result.checks for step in c.steps)
    steps = (f"step {result.eps:g}" if smallest >= result.eps else
             f"step {result.eps:g}, down to {smallest:.2g} where needed")
    table = Table(title=f"Derivatives ({result.derivative_source}) vs central differences "
                  f"({steps}) at {len(result.points)} points",
                  title_justify="left")
    for column in ("derivative", "max abs error", "max rel error", "result"):
        table.add_column(column, justify="right" if "error" in column else "left")
    for c in result.checks:
        table.add_row(f"d {c.what} / d {c.param}", _error(c.max_abs_error),
                      _error(c.max_rel_error), _RESULT[c.result])
    out_console.print(table)
    out_console.print(f"pass: |analytic - numeric| <= {result.atol:g} + {result.rtol:g} "
                      "x |numeric| at every pixel and point")
    out_console.print("[dim]max rel error: kernel, the largest over the points of "
                      "|dK - dK_fd| / |dK_fd| (L2 over the pixels); loss, the largest "
                      "|g - g_fd| over the largest |g_fd|[/dim]")
    for note in result.notes:
        out_console.print(f"[dim]note: {escape(note)}[/dim]")
    if result.kernel_comparison is not None:
        out_console.print(f"kernel: {escape(result.kernel_comparison.summary())}")
    for c in result.checks:
        if c.unresolved_points:
            out_console.print(_unresolved_line(c, len(result.points)))
        if c.result != "fail":
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
    unchecked = sum(c.result == "unresolved" for c in result.checks)
    out_console.print(
        "[green]all derivatives agree[/green]" if result.result == "pass" else
        "[bold red]some derivatives disagree[/bold red]" if result.result == "fail" else
        f"[yellow]no derivative disagrees where finite differences settle; {unchecked} "
        f"could not be checked everywhere[/yellow]")


def _unresolved_line(c: DerivativeCheck, n_points: int) -> str:
    """Where and why a derivative could not be checked."""
    shown = c.unresolved_points[:6]
    values = ", ".join(f"{p[c.param]:.3g}" for p in shown)
    more = len(c.unresolved_points) - len(shown)
    smallest = min(step for step, r in zip(c.steps, c.point_results) if r == "unresolved")
    spread = ("" if c.unsettled is None else f" by {100 * c.unsettled:.2g}% or more"
              + (" (L2 over the pixels)" if c.what == "kernel" else ""))
    return (f"[bold]d {c.what} / d {c.param}[/bold]: finite differences do not settle at "
            f"{len(c.unresolved_points)} of {n_points} points ({c.param} = {values}"
            + (f" and {more} more" if more else "") + "): at every step tried, down to "
            f"{smallest:.2g}, those at steps h and h/2 differ{spread}; not checked there")
