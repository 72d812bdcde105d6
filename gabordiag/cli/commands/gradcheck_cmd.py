"""``gabordiag gradcheck``: analytic derivatives against finite differences."""

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from ...experiment import resolve_config
from ...gradcheck import GradcheckResult, run_gradcheck
from .. import app
from ..options import json_flag, with_experiment_options
from ..render import out_console, print_json


@app.command("gradcheck")
@with_experiment_options
def gradcheck_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    random_points: Annotated[int, typer.Option(
        "--random", min=0, max=1000, help="Random points besides the start and the target.",
        rich_help_panel="Gradcheck")] = 5,
    fd_step: Annotated[float, typer.Option(
        "--fd-step", min=1e-12, max=1e-1, help="Central finite-difference step.",
        rich_help_panel="Gradcheck")] = 1e-6,
    atol: Annotated[float, typer.Option(
        "--atol", min=0.0, help="Absolute tolerance.", rich_help_panel="Gradcheck")] = 1e-5,
    rtol: Annotated[float, typer.Option(
        "--rtol", min=0.0, help="Relative tolerance.", rich_help_panel="Gradcheck")] = 1e-3,
    json_output: Annotated[bool, json_flag("gabordiag.gradcheck/1")] = False,
) -> None:
    """Compare d kernel / d parameter and d loss / d parameter with central finite
    differences; exit 1 beyond the tolerances (like torch.autograd.gradcheck).

    Check your own code: --derivative mymodule:dkernel (and --kernel mymodule:kernel).
    A mismatch is localised: worst pixels and angles, and a sign flip, a constant
    factor, a transposed or mirrored kernel or a shifted centre is named.
    """
    config, _ = resolve_config(experiment, config_path)
    result = run_gradcheck(config, random_points, seed=config.seed, eps=fd_step, atol=atol,
                           rtol=rtol)
    if json_output:
        print_json(result.to_dict())
    else:
        render_gradcheck(result)
    if not result.passed:
        raise typer.Exit(1)


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
