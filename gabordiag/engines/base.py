"""What every engine offers: batched loss, gradient and curvature of a problem."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..core.problem import Problem

__all__ = ["Engine"]

Array = NDArray[np.float64]


class Engine(Protocol):
    """Evaluates the loss, gradient and curvature for batches of value vectors."""

    name: str
    problem: Problem

    def loss_and_grad(self, values: Array) -> tuple[Array, Array]:
        """Loss ``(B,)`` and gradient ``(B, n)`` for values ``(B, n)``."""
        ...

    def loss_grad_curv(self, values: Array) -> tuple[Array, Array, Array]:
        """Loss, gradient and the Hessian's diagonal ``(B, n)``."""
        ...

    def loss(self, values: Array) -> Array:
        """Loss only, ``(B,)``."""
        ...
