"""Tables that degrade gracefully on narrow terminals: headers fold onto two lines
first, then whole columns are left out, least important first, and the table says
which. A column is never squeezed until its values are cut or emptied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Col", "fitted_table"]


@dataclass(frozen=True)
class Col:
    """A column: its header, a two-line header for narrow terminals, how to justify,
    whether its text may wrap (between words), and the order columns are left out in
    (``drop``: 1 first, 0 never)."""

    header: str
    narrow: str | None = None
    justify: str = "right"
    wrap: bool = False
    drop: int = 0


def fitted_table(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[Any]],
                 **table_options: Any) -> tuple[Table, list[str]]:
    """The widest table that fits the console, and the headers of the columns left out."""
    keep = list(range(len(cols)))
    for narrow in (False, True):
        while True:
            table = _build(cols, rows, keep, narrow, table_options)
            if _needed(console, cols, rows, keep, narrow) <= console.width:
                return table, [cols[i].header for i in range(len(cols)) if i not in keep]
            if not narrow:
                break
            droppable = [i for i in keep if cols[i].drop]
            if not droppable:
                return table, [cols[i].header for i in range(len(cols)) if i not in keep]
            keep.remove(min(droppable, key=lambda i: cols[i].drop))
    raise AssertionError("unreachable")  # pragma: no cover


def _needed(console: Console, cols: Sequence[Col], rows: Sequence[Sequence[Any]],
            keep: list[int], narrow: bool) -> int:
    """Columns the table needs without cutting a value: every unwrapped cell whole,
    wrapped text at its longest word, one padding either side and a rule between."""
    total = len(keep) + 1
    for i in keep:
        c = cols[i]
        header = c.narrow if narrow and c.narrow else c.header
        cells = [Text.from_markup(str(row[i])) for row in rows]
        if c.wrap:
            words = [w for cell in cells for w in cell.plain.split()] or [""]
            width = max(8, *(len(w) for w in words))
        else:
            width = max((cell.cell_len for cell in cells), default=0)
        width = max(width, *(len(line) for line in header.splitlines()))
        total += width + 2
    return total


def _build(cols: Sequence[Col], rows: Sequence[Sequence[Any]], keep: list[int], narrow: bool,
           options: dict[str, Any]) -> Table:
    table = Table(**options)
    for i in keep:
        c = cols[i]
        header = c.narrow if narrow and c.narrow else c.header
        table.add_column(header, justify=c.justify,  # type: ignore[arg-type]
                         no_wrap=not c.wrap, overflow="fold", min_width=8 if c.wrap else None)
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table
