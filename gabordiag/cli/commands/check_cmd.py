"""``gabordiag check``: recoverability expectations as a CI regression check."""

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ...check import SCHEMA, FileCheck, collect_files, load_check, run_check, to_junit
from ...errors import ConfigError
from ...io import check_output_path, write_text_atomic
from .. import app
from ..common import progress_bar
from ..options import json_flag
from ..render import out_console, print_json


@app.command("check")
def check_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Experiment TOML files, or directories searched for them.",
        show_default=False, metavar="PATH")],
    junit: Annotated[Optional[Path], typer.Option(
        "--junit", help="Write JUnit XML for CI systems.", metavar="FILE")] = None,
    json_output: Annotated[bool, json_flag("gabordiag.check/1")] = False,
) -> None:
    """Run each file's \\[expect] table; exit 0 when all hold, 1 when any fails, 2 on a
    usage or config error.

    Example \\[expect] table: verdict = "converged", max_final_error = 1e-3,
    period = "pi", min_success_rate = 0.9, max_stable_lr_at_least = 4e-4.
    """
    if junit is not None:
        check_output_path(junit, "--junit")
    files = collect_files(paths)
    loaded = [(path, load_check(path)) for path in files]  # validate all before running
    checks = [c for _, c in loaded if c is not None]
    skipped = [path for path, c in loaded if c is None]
    if not checks:  # a CI job must not pass while checking nothing
        raise ConfigError("PATH: none of the files has an [expect] table; nothing to check")
    start = time.perf_counter()
    with progress_bar(len(checks), "check", enabled=not json_output) as advance:
        for i, check in enumerate(checks):
            run_check(check)
            if advance is not None:
                advance(i + 1)
    seconds = time.perf_counter() - start
    if junit is not None:
        write_text_atomic(junit, to_junit(checks, seconds))
    passed = all(c.passed for c in checks)
    if json_output:
        print_json({"schema": SCHEMA, "passed": passed,
                    "skipped": [str(p) for p in skipped],
                    "files": [{"path": str(c.path), "passed": c.passed,
                               "results": [r.to_dict() for r in c.results]}
                              for c in checks]})
    else:
        render_checks(checks, skipped)
    if not passed:
        raise typer.Exit(1)


def render_checks(checks: list[FileCheck], skipped: list[Path]) -> None:
    """One row per expectation: file, expectation, measured value, pass or fail."""
    table = Table(title="gabordiag check", title_justify="left")
    for column in ("expectation", "measured", "result"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(f"[bold]{check.path}[/bold] ({check.seconds:.1f} s)", "", "",
                      end_section=False)
        for r in check.results:
            expected = r.expected if not isinstance(r.expected, float) else f"{r.expected:.4g}"
            table.add_row(f"  {r.key} = {expected}", r.message,
                          "[green]pass[/green]" if r.passed else "[bold red]FAIL[/bold red]",
                          end_section=r is check.results[-1])
    out_console.print(table)
    failed = sum(not r.passed for c in checks for r in c.results)
    total = sum(len(c.results) for c in checks)
    for path in skipped:
        out_console.print(f"[dim]{path}: no [expect] table, skipped[/dim]")
    out_console.print(f"{total - failed} passed, {failed} failed")
