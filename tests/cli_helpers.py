"""Helpers for the command-line tests: run ``gabordiag.cli.main`` in-process, check the
one-line error contract, write small input files, and an independent Gabor kernel."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gabordiag.cli import main

ERROR_PREFIX = "gabordiag: error:"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Flags for a fast run where the reference behaviour is not what is tested.
FAST = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5", "--steps", "30"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        """stdout as one JSON object (and nothing else)."""
        assert self.out.endswith("\n"), self.out[:300]
        assert self.out.count("\n") == 1, self.out[:300]
        return json.loads(self.out)


def run_cli(capsys: Any, *args: str | os.PathLike[str]) -> Result:
    """Call the CLI entry point with ``args`` and capture what it printed."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def assert_usage_error(result: Result, *names: str) -> str:
    """Exit code 2, one line on stderr that starts with the prefix and names ``names``,
    no traceback, nothing on stdout. Returns the message."""
    assert result.code == 2, (result.code, result.err, result.out[:300])
    assert result.out == "", result.out[:300]
    assert result.err.startswith(ERROR_PREFIX), result.err
    assert result.err.endswith("\n"), result.err
    assert result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    message = result.err[len(ERROR_PREFIX):].strip()
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
