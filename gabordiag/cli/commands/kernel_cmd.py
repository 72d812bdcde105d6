"""``gabordiag kernel``: the kernels a run uses, and their derivatives."""

from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
from rich.table import Table
from rich.text import Text

from ...experiment import resolve_config
from ...io import FIGURE_SUFFIXES, check_output_path, write_atomic
from ...kernel import kernel_derivatives
from .. import app
from ..options import json_flag, plot_option, with_experiment_options
from ..render import fmt, out_console, print_json

SCHEMA = "gabordiag.kernel/1"


@app.command("kernel")
@with_experiment_options
def kernel_command(
    experiment: dict[str, Any],
    config_path: Optional[Path],
    json_output: Annotated[bool, json_flag("gabordiag.kernel/1",
                                            "the kernels as nested lists")] = False,
    plot: Annotated[Optional[Path], plot_option("the kernels as a figure")] = None,
) -> None:
    """Show the kernels a run uses: target, start, and d kernel / d parameter.

    One kernel per learned parameter's derivative, so you can see what theta does.
    """
    config, _ = resolve_config(experiment, config_path)
    if plot is not None:
        check_output_path(plot, "--plot", FIGURE_SUFFIXES)
    kernels = run_kernels(config.ksize, config.target.as_dict(), config.start.as_dict(),
                          config.learn)
    if plot is not None:
        from ...plotting import kernel_figure

        fig = kernel_figure(kernels)
        write_atomic(plot, lambda tmp: fig.savefig(tmp, dpi=120))
    if json_output:
        print_json({"schema": SCHEMA, "config": config.to_dict(),
                    "kernels": {name: k.tolist() for name, k in kernels.items()}})
        return
    table = Table(title=f"Kernels ({config.ksize}x{config.ksize})", title_justify="left")
    for column in ("kernel", "min", "max", "L2 norm", "picture"):
        table.add_column(column, justify="right" if column != "picture" else "left")
    for name, k in kernels.items():
        table.add_row(name, fmt(float(k.min())), fmt(float(k.max())),
                      fmt(float(np.linalg.norm(k))), heatmap(k))
    out_console.print(table)
    if plot is None:
        out_console.print("[dim]--plot FILE.png writes a figure; --json the values.[/dim]")


def run_kernels(ksize: int, target: dict[str, float], start: dict[str, float],
                learn: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Target, start and d start / d p for each learned p (name -> kernel)."""
    target_kernel, _ = kernel_derivatives(ksize, target, ())
    start_kernel, derivatives = kernel_derivatives(ksize, start, learn)
    kernels = {"target": target_kernel, "start": start_kernel}
    kernels.update({f"d/d{name}": derivatives[name] for name in learn})
    return kernels


def heatmap(kernel: np.ndarray, max_side: int = 21) -> Text:
    """A small red/blue picture of a kernel: one character per pixel, two rows per
    line (upper half block in the top row's colour over the bottom row's)."""
    step = max(1, int(np.ceil(kernel.shape[0] / max_side)))
    small = kernel[::step, ::step]
    limit = float(np.abs(small).max()) or 1.0

    def colour(value: float) -> str:
        level = round(200 * min(1.0, abs(value) / limit))
        if value > 0:
            return f"rgb(255,{255 - level},{255 - level})"
        return f"rgb({255 - level},{255 - level},255)"

    text = Text()
    for r in range(0, small.shape[0], 2):
        for c in range(small.shape[1]):
            top = colour(float(small[r, c]))
            bottom = colour(float(small[r + 1, c])) if r + 1 < small.shape[0] else "default"
            text.append("▀", style=f"{top} on {bottom}")
        if r + 2 < small.shape[0]:
            text.append("\n")
    return text
