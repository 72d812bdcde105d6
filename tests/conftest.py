"""The test suite's shared pieces: the one CLI harness (:func:`invoke`, also as the
``cli`` fixture), the one-line error contract, and the one independent reference kernel
(:func:`gabor`), written from DESIGN.md without the package.

Test modules import the helpers with ``from conftest import ...``."""

# ruff: noqa: E402 (the BLAS threads are set before numpy is imported)
from __future__ import annotations

import os

# The command line runs BLAS on one thread (gabordiag.cli.main): the in-process tests
# too, so that they see the same bits as a subprocess of the installed command.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = os.environ.get("GABORDIAG_BLAS_THREADS", "1")

import contextlib
import io
import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gabordiag.cli import main

ERROR_PREFIX = "gabordiag: error:"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Flags for a fast run where the reference behaviour is not what is tested.
FAST = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5", "--steps", "30"]


def replace_options(args: list[str], *pairs: str) -> list[str]:
    """``args`` with each ``--option value`` of ``pairs`` replacing the same option's value
    (or added): a single-valued option given twice is an error (issue 15), so a test
    changes a value rather than repeating the option."""
    out = list(args)
    for option, value in zip(pairs[::2], pairs[1::2]):
        if option in out:
            out[out.index(option) + 1] = value
        else:
            out += [option, value]
    return out


# Warnings Python does not show by default: they never reach a user's stderr.
_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


@dataclass
class Result:
    """What a command did: exit code, stdout, stderr, and the warnings a user would see."""

    code: int
    out: str
    err: str
    args: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> str:
        """The run in a few lines, for assertion messages."""
        shown = list(dict.fromkeys(self.warnings))[:4]
        return (f"gabordiag {' '.join(self.args)}\n  exit {self.code}\n  stderr: "
                f"{self.err[-800:]!r}\n  warnings ({len(self.warnings)}): {shown}\n"
                f"  stdout: {self.out[:300]!r}")

    def __iter__(self) -> Iterator[Any]:
        """``code, out, err = invoke(...)``."""
        return iter((self.code, self.out, self.err))

    def json(self) -> dict[str, Any]:
        """stdout as one JSON object (and nothing else)."""
        assert self.out.endswith("\n"), self.out[:300]
        assert self.out.count("\n") == 1, self.out[:300]
        return json.loads(self.out)


def invoke(*args: str | os.PathLike[str] | float, allow_warnings: bool = False) -> Result:
    """Run ``gabordiag.cli.main(args)`` in-process: what it printed, its exit code and the
    warnings a user would see (none are allowed unless ``allow_warnings``).

    An exception escaping ``main`` is what a user would see as a traceback: it propagates
    and fails the test."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    shown = [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
             for w in caught if not issubclass(w.category, _HIDDEN)]
    result = Result(code, out.getvalue(), err.getvalue(), argv, shown,
                    time.perf_counter() - start)
    assert allow_warnings or not shown, "warnings reach stderr:\n" + result.describe()
    return result


@pytest.fixture
def cli() -> Callable[..., Result]:
    """``cli("recover", "--json")``: :func:`invoke` as a fixture."""
    return invoke


def assert_usage_error(result: Result, *names: str, warnings: bool = False) -> str:
    """Exit code 2, one line on stderr that starts with the prefix and names ``names``,
    no traceback, nothing on stdout. Returns the message.

    ``warnings``: lines ``gabordiag: warning: ...`` about accepted values may come before
    the error line (they are printed when found, before the work); it stays the last."""
    assert result.code == 2, (result.code, result.err, result.out[:300])
    assert result.out == "", result.out[:300]
    assert result.err.endswith("\n"), result.err
    assert "Traceback" not in result.err
    *before, last = result.err.splitlines()
    assert len(before) == 0 or warnings, result.err
    assert all(line.startswith("gabordiag: warning: ") for line in before), result.err
    assert last.startswith(ERROR_PREFIX), result.err
    message = last[len(ERROR_PREFIX):].strip()
    assert message, "the error line must say what is wrong"
    for name in names:
        assert name in message, (name, message)
    return message


def leftovers(directory: Path, *names: str) -> list[str]:
    """Files in ``directory`` that are one of ``names`` or a temporary file next to one."""
    found = []
    for path in directory.iterdir():
        if path.name in names or any(path.name.startswith(f".{n}.") for n in names):
            found.append(path.name)
    return sorted(found)


def entry_point() -> list[str]:
    """The installed ``gabordiag`` command, or ``python -m gabordiag``."""
    exe = shutil.which("gabordiag")
    if exe is None:
        candidate = Path(sys.executable).parent / "gabordiag"
        exe = str(candidate) if candidate.exists() else None
    return [exe] if exe else [sys.executable, "-m", "gabordiag"]


def gabor(ksize: int, theta: float, sigma: float, lambd: float, gamma: float,
          psi: float = 0.0) -> np.ndarray:
    """DESIGN.md's kernel, written out independently of the package:
    ``K[row, col] = g(x = col - c, y = row - c)``."""
    c = ksize // 2
    y, x = np.mgrid[0:ksize, 0:ksize].astype(float) - c
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    return np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * np.cos(
        2 * np.pi * xr / lambd + psi)
