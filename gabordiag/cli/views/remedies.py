"""The rich rendering of the remedies ranking."""

from rich import box
from rich.table import Table

from ...analysis.remedies import RemediesResult
from ..render import out_console

__all__ = ["render_remedies"]


def render_remedies(result: RemediesResult) -> None:
    """The ranked table and the one-line reasons."""
    b = result.baseline
    n = len(result.starts)
    table = Table(title=f"Remedies ranked over {n} starts (baseline: "
                  f"{b.success_rate:.0%} recovered)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("remedy")
    table.add_column("recov.", justify="right")
    table.add_column("median\nsteps", justify="right")
    table.add_column("removes")
    table.add_column("leaves")
    for rank, r in enumerate(result.remedies, start=1):
        style = "green" if r.success_rate >= 0.9 else ("yellow" if r.success_rate >= 0.5
                                                       else "red")
        table.add_row(str(rank), r.id, f"[{style}]{r.success_rate:.0%}[/{style}]",
                      "-" if r.median_steps is None else f"{r.median_steps:.0f}",
                      ", ".join(r.removes) or "-", ", ".join(r.leaves) or "-")
    out_console.print(table)
    for rank, r in enumerate(result.remedies, start=1):
        out_console.print(f"[bold]{rank}. {r.id}[/bold] ({r.title}): {r.why}")
