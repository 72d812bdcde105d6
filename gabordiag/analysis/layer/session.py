"""PyTorch for the layer analysis: imported only here, only when ``gabordiag layer``
runs, and run in float64 on one thread while it does.

No other module of gabordiag imports torch (a test holds every other command to that).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from ...errors import DependencyError

__all__ = ["INSTALL_HINT", "require_torch", "torch_session"]

INSTALL_HINT = 'pip install "gabordiag[torch]"'


def require_torch() -> Any:
    """The ``torch`` module, or a one-line :class:`DependencyError` saying how to
    install it."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise DependencyError(f"gabordiag layer needs PyTorch, which is not installed: "
                              f"{INSTALL_HINT} (or pip install torch)") from None


@contextlib.contextmanager
def torch_session() -> Iterator[Any]:
    """torch with float64 as the default dtype (tensors a layer creates in forward are
    float64 too) and one thread (the same bits on every machine); both are restored
    afterwards."""
    torch = require_torch()
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        yield torch
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)
