"""Rich rendering helpers shared by the commands."""

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["err_console", "fmt", "out_console", "print_error", "print_json"]

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """One line on stderr, no markup interpretation."""
    first = " ".join(str(message).split())
    sys.stderr.write(f"gabordiag: error: {first}\n")


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout, keys sorted, nothing else."""
    sys.stdout.write(json.dumps(data, sort_keys=True, allow_nan=False) + "\n")


def fmt(value: float, digits: int = 4) -> str:
    """A number for a table: fixed for moderate values, scientific otherwise."""
    if value != value:  # NaN
        return "nan"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}f}"
    return f"{value:.{digits - 1}e}"
