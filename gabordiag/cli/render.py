"""Rich rendering helpers shared by the commands."""

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    out_console: Console
    err_console: Console

__all__ = ["err_console", "fmt", "out_console", "print_error", "print_json", "print_warning"]


def __getattr__(name: str) -> Any:
    """``out_console`` and ``err_console``, made on first use: ``--json`` output and
    errors need no rich."""
    if name not in ("out_console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    console = Console(stderr=name == "err_console", highlight=False)
    globals()[name] = console
    return console


def print_error(message: str) -> None:
    """One line on stderr, no markup interpretation."""
    first = " ".join(str(message).split())
    sys.stderr.write(f"gabordiag: error: {first}\n")


def print_warning(message: str) -> None:
    """One line on stderr: something accepted that is probably not what was meant."""
    sys.stderr.write(f"gabordiag: warning: {' '.join(str(message).split())}\n")


def print_json(data: dict[str, Any], warnings: tuple[str, ...] | list[str] = ()) -> None:
    """One JSON object on stdout, keys sorted, nothing else, with the run's
    ``warnings`` (a list, empty when there are none). Non-finite numbers (e.g.
    ``lambda = inf``) are written as the strings ``"inf"``, ``"-inf"``, ``"nan"``, which
    the config reader accepts back."""
    import json

    data = {**data, "warnings": list(warnings)}
    try:  # all finite, as nearly always: no need to walk the data first
        text = json.dumps(data, sort_keys=True, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(data), sort_keys=True, allow_nan=False)
    sys.stdout.write(text + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def fmt(value: float, digits: int = 4) -> str:
    """A number for a table: fixed for moderate values, scientific otherwise."""
    if value != value:  # NaN
        return "nan"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}f}"
    return f"{value:.{digits - 1}e}"
