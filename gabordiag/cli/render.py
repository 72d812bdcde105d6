"""Rich rendering helpers shared by the commands.

rich is imported only when a console is first used (``--json`` output and one-line
errors need none of it)."""

import math
import sys
from typing import TYPE_CHECKING, Any

from .terminal import ClosedPipe, can_carry, quiet_closed_stdout, to_ascii

if TYPE_CHECKING:
    from rich.console import Console

    out_console: Console
    err_console: Console

__all__ = ["code_notes", "err_console", "flush_code_notes", "fmt", "out_console", "print_error",
           "print_json", "print_warning"]


def _make_console(stderr: bool) -> "Console":
    """rich's Console, with ASCII stand-ins laid out in place of characters the stream's
    encoding cannot carry (before the layout, so that boxes stay aligned), and a closed
    stdout that ends the run quietly instead of rich's exit 1."""
    from rich.console import Console
    from rich.text import Text

    class _Console(Console):
        def render_str(self, text: str, *args: Any, **kwargs: Any) -> Text:
            if not can_carry(self.encoding):
                text = to_ascii(text)
            return super().render_str(text, *args, **kwargs)

        def on_broken_pipe(self) -> None:
            del self._buffer[:]  # what could not be written is dropped, not kept for later
            quiet_closed_stdout()
            raise ClosedPipe()

    return _Console(stderr=stderr, highlight=False)


def __getattr__(name: str) -> Any:
    """``out_console`` and ``err_console``, made on first use."""
    if name not in ("out_console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    console = _make_console(stderr=name == "err_console")
    globals()[name] = console
    return console


def code_notes(clear: bool = False) -> list[str]:
    """What the user's --kernel/--derivative code did worth a warning (its own warnings,
    conversions of what it returned), each once; none when no user code was loaded
    (gabordiag.core, and numpy, are not imported for that)."""
    user = sys.modules.get("gabordiag.core.user")
    if user is None:
        return []
    notes: list[str] = user.code_notes()
    if clear:
        user.clear_code_notes()
    return notes


def flush_code_notes() -> None:
    """The user code's notes as warning lines on stderr, once."""
    for note in code_notes(clear=True):
        print_warning(note)


def print_error(message: str) -> None:
    """One line on stderr, no markup interpretation; the user code's notes before it
    (the error line is the last)."""
    flush_code_notes()
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

    data = {**data, "warnings": [*warnings, *code_notes()]}
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
