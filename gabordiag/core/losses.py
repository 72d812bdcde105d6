"""Loss functions of the residual r = output - target, as PyTorch defines them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..config.choices import MSE_FAMILY, NON_SMOOTH

__all__ = ["Loss"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Loss:
    """A loss over the output pixels.

    ``mse`` = mean(r^2) (``torch.nn.MSELoss``), ``rmse`` = sqrt(mse),
    ``rmse-eps`` = sqrt(mse + eps), ``l1`` = mean|r| (``L1Loss``),
    ``huber`` = ``HuberLoss(delta)``, all with mean reduction.

    At mse == 0 the rmse gradient is taken as 0 (the one-sided slopes do not vanish:
    the derivative does not exist there).
    """

    name: str
    eps: float = 1e-3
    delta: float = 1.0

    @property
    def mse_family(self) -> bool:
        """True when the loss is a function of the mean squared error alone."""
        return self.name in MSE_FAMILY

    @property
    def kinked(self) -> bool:
        """True when the loss has a kink at its minimum (its gradient does not vanish)."""
        return self.name in NON_SMOOTH

    # Functions of the MSE m: value, first and second derivative w.r.t. m.
    def of_mse(self, m: Array) -> tuple[Array, Array, Array]:
        """``f(m), f'(m), f''(m)`` for the MSE family."""
        if self.name == "mse":
            return m, np.ones_like(m), np.zeros_like(m)
        shifted = m + (self.eps if self.name == "rmse-eps" else 0.0)
        root = np.sqrt(np.maximum(shifted, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = np.where(root > 0, 0.5 / root, 0.0)
            d2 = np.where(root > 0, -0.25 / root**3, 0.0)
        return root, d1, d2

    def elementwise(self, r: Array) -> tuple[Array, Array, Array]:
        """Per-pixel ``rho(r), rho'(r), rho''(r)`` for ``l1`` and ``huber``."""
        a = np.abs(r)
        if self.name == "l1":
            return a, np.sign(r), np.zeros_like(r)
        if self.name == "huber":
            inside = a < self.delta
            value = np.where(inside, 0.5 * r**2, self.delta * (a - 0.5 * self.delta))
            d1 = np.where(inside, r, self.delta * np.sign(r))
            return value, d1, inside.astype(np.float64)
        raise ValueError(f"{self.name} is a function of the MSE; use of_mse")
