"""What the process meets outside the command: signals, a closed pipe, a narrow encoding.

- SIGTERM (a CI timeout, ``kill``) and SIGHUP (a closed terminal) end a run like Ctrl-C:
  the atomic writers remove their temporary files, one line says so, and the exit code
  is 128 + the signal's number (143, 129), as a shell reports a process killed by it.
  A signal the parent set to be ignored (``nohup`` ignores SIGHUP) stays ignored.
- A closed stdout (``gabordiag recover | head -2``) ends the run quietly with exit 0, as
  ``git log | head`` does.
- An output encoding that cannot carry our characters (``LC_ALL=C
  PYTHONIOENCODING=ascii``) gets ASCII stand-ins (``|``, ``-``, ``+``, `` deg``, ``>=``)
  instead of a UnicodeEncodeError; rich draws its boxes in ASCII there by itself.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import signal
import sys
import threading
import unicodedata
from collections.abc import Iterator
from types import FrameType

__all__ = ["ClosedPipe", "Terminated", "ascii_fallback", "can_carry", "quiet_closed_stdout",
           "signals_as_interrupts", "to_ascii"]


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, unwound like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number: what a shell reports for a process it ended."""
        return 128 + self.signum

    @property
    def name(self) -> str:
        """``SIGTERM`` or ``SIGHUP``."""
        return signal.Signals(self.signum).name


class ClosedPipe(BaseException):
    """stdout was closed by its reader: stop writing, exit 0."""


#: the signal that ended the run, for :func:`gabordiag.cli.main` (typer turns every
#: KeyboardInterrupt into exit code 130 and drops the exception)
received: list[int] = []


def _raise(signum: int, frame: FrameType | None) -> None:
    received.append(signum)
    raise Terminated(signum)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` while the command runs (in the main
    thread only; handlers the parent set to ignore are kept); the previous handlers come
    back afterwards."""
    received.clear()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def quiet_closed_stdout() -> None:
    """After the reader closed stdout: point file descriptor 1 at /dev/null, so that the
    interpreter's last flush does not fail too (the recipe of Python's signal docs).
    Only the process's own stdout: a stream put in its place (a test) is left alone."""
    stream = sys.__stdout__
    if sys.stdout is not stream:
        return
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError):
        return
    if fd < 0:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError):
        os.dup2(devnull, fd)
    os.close(devnull)


# -- ASCII stand-ins ----------------------------------------------------------------------

_STAND_INS = {"°": " deg", "↑": "^", "↓": "v", "≥": ">=", "≤": "<=", "…": "...", "—": "--",
              "–": "-", "±": "+/-", "×": "x", "π": "pi", "θ": "theta", "λ": "lambda",
              "σ": "sigma", "γ": "gamma", "ψ": "psi", "µ": "u", "μ": "u", "·": ".",
              "→": "->", "←": "<-", "≈": "~", "²": "^2", "•": "*", "✓": "ok", "✗": "x",
              "≠": "!=", "∞": "inf", "√": "sqrt", "′": "'", "‘": "'", "’": "'", "“": '"',
              "”": '"', "▏": "|", "█": "#", "▌": "|", "━": "-", "┃": "|"}
_ERRORS = "gabordiag-ascii"
_SAMPLE = "╭─│°↑≥…—±"  # what our output uses


def _stand_in(char: str) -> str:
    if char in _STAND_INS:
        return _STAND_INS[char]
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        vertical, horizontal = "VERTICAL" in name, "HORIZONTAL" in name
        return "+" if vertical == horizontal else ("|" if vertical else "-")
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    return decomposed or "?"


def can_carry(encoding: str | None) -> bool:
    """Whether ``encoding`` carries the characters our output uses (box drawing, the
    degree sign, arrows)."""
    try:
        _SAMPLE.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def to_ascii(text: str) -> str:
    """``text`` with ASCII stand-ins for every other character.

    Examples
    --------
    >>> to_ascii("theta 0.7854 (45.0°), loss 4.96 ↑, ±41.6")
    'theta 0.7854 (45.0 deg), loss 4.96 ^, +/-41.6'
    """
    if text.isascii():
        return text
    return "".join(char if char.isascii() else _stand_in(char) for char in text)


def _ascii_errors(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(_stand_in(char) for char in text), error.end


codecs.register_error(_ERRORS, _ascii_errors)


def ascii_fallback() -> None:
    """Give stdout and stderr ASCII stand-ins for the characters their encoding cannot
    carry (a no-op on UTF-8 streams and on streams that are not text files)."""
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        if not can_carry(stream.encoding):
            with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
                stream.reconfigure(errors=_ERRORS)
