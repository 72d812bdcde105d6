"""The rich rendering of kernels: a table with a small picture of each."""

import numpy as np
from rich.table import Table
from rich.text import Text

from ...analysis.kernels import KernelsResult
from ..render import fmt, out_console

__all__ = ["heatmap", "render_kernels"]


def render_kernels(result: KernelsResult, plotted: bool, picture: bool | None = None
                   ) -> None:
    """One row per kernel: min, max, L2 norm, and a picture in colour when stdout is a
    terminal (``picture``: force it on or off); piped, the picture is left out."""
    k = result.config.ksize
    show = out_console.is_terminal if picture is None else picture
    table = Table(title=f"Kernels ({k}x{k}): {result.source}", title_justify="left")
    for column in ("kernel", "min", "max", "L2 norm", *(("picture",) if show else ())):
        table.add_column(column, justify="right" if column != "picture" else "left")
    for name, kernel in result.kernels.items():
        table.add_row(name, fmt(float(kernel.min())), fmt(float(kernel.max())),
                      fmt(float(np.linalg.norm(kernel))), *((heatmap(kernel),) if show else ()))
    out_console.print(table)
    if not plotted:
        out_console.print("[dim]--plot FILE.png writes a figure; --json the values.[/dim]")


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
