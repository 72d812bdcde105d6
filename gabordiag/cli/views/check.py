"""The rich rendering of a check report: one row per expectation."""

from rich.markup import escape
from rich.table import Table

from ...analysis.check import CheckReport
from ..render import out_console

__all__ = ["render_checks"]


def render_checks(report: CheckReport) -> None:
    """One row per expectation: file, expectation, measured value, pass or fail."""
    table = Table(title="gabordiag check", title_justify="left")
    for column in ("expectation", "measured", "result"):
        table.add_column(column, overflow="fold")
    for check in report.files:
        table.add_row(f"[bold]{escape(str(check.path))}[/bold] ({check.seconds:.1f} s)", "", "",
                      end_section=False)
        for r in check.results:
            expected = r.expected if not isinstance(r.expected, float) else f"{r.expected:.4g}"
            table.add_row(escape(f"  {r.key} = {expected}"), escape(r.message),
                          "[green]pass[/green]" if r.passed else "[bold red]FAIL[/bold red]",
                          end_section=r is check.results[-1])
    out_console.print(table)
    failed = sum(not r.passed for c in report.files for r in c.results)
    total = sum(len(c.results) for c in report.files)
    for path in report.skipped:
        out_console.print(f"[dim]{escape(str(path))}: no \\[expect] table, skipped[/dim]")
    out_console.print(f"{total - failed} passed, {failed} failed")
