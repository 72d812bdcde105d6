"""Optimizers with torch.optim's update rules and defaults, vectorised over runs.

Each optimizer updates a batch of parameter vectors ``(B, n)`` at once; the state is
per run. The update rules follow the torch.optim documentation (SGD with momentum,
dampening and Nesterov; RMSprop; Adam), in the same order of floating-point operations
where that matters, so a run here steps like the same run in PyTorch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..config.choices import OPTIMIZERS
from ..config.model import OptimizerSettings

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "make_optimizer"]

Array = NDArray[np.float64]


class Optimizer:
    """Base class: ``step(params, grads)`` returns the new parameters.

    ``lr`` may be a scalar or an array of shape ``(B,)`` (one learning rate per run).
    """

    def __init__(self, settings: OptimizerSettings) -> None:
        self.settings = settings
        self.t = 0

    @property
    def memoryless(self) -> bool:
        """True when an update depends only on the parameters, the gradient and the
        learning rate (no momentum, no running averages, no step count)."""
        return False

    def _lr(self, params: Array) -> Array:
        lr = np.asarray(self.settings.lr, dtype=np.float64)
        return lr[:, None] if lr.ndim == 1 else lr

    def step(self, params: Array, grads: Array, lr: Array | float | None = None) -> Array:
        """One update of every run; ``lr`` overrides the settings' learning rate."""
        self.t += 1
        rate = self._lr(params) if lr is None else _column(lr)
        return self._update(params, grads, rate)

    def _update(self, params: Array, grads: Array, lr: Array) -> Array:
        raise NotImplementedError


def _column(lr: Array | float) -> Array:
    value = np.asarray(lr, dtype=np.float64)
    return value[:, None] if value.ndim == 1 else value


class SGD(Optimizer):
    """torch.optim.SGD: ``b = mu b + (1 - dampening) g`` (``b = g`` at the first step);
    Nesterov uses ``g + mu b``; ``p -= lr * update``."""

    def __init__(self, settings: OptimizerSettings) -> None:
        super().__init__(settings)
        self.buf: Array | None = None

    @property
    def memoryless(self) -> bool:
        """Plain SGD (no momentum) keeps no state."""
        return self.settings.momentum == 0

    def _update(self, params: Array, grads: Array, lr: Array) -> Array:
        s = self.settings
        direction = grads
        if s.momentum != 0:
            if self.buf is None:
                self.buf = grads.copy()
            else:
                self.buf = s.momentum * self.buf + (1 - s.dampening) * grads
            direction = grads + s.momentum * self.buf if s.nesterov else self.buf
        return params - lr * direction


class RMSprop(Optimizer):
    """torch.optim.RMSprop (not centered): ``v = alpha v + (1 - alpha) g^2``,
    ``p -= lr g / (sqrt(v) + eps)``, with momentum on that ratio when ``momentum > 0``."""

    def __init__(self, settings: OptimizerSettings) -> None:
        super().__init__(settings)
        self.square_avg: Array | None = None
        self.buf: Array | None = None

    def _update(self, params: Array, grads: Array, lr: Array) -> Array:
        s = self.settings
        if self.square_avg is None:
            self.square_avg = np.zeros_like(grads)
        self.square_avg = s.alpha * self.square_avg + (1 - s.alpha) * grads * grads
        ratio = grads / (np.sqrt(self.square_avg) + s.eps)
        if s.momentum > 0:
            self.buf = ratio if self.buf is None else s.momentum * self.buf + ratio
            return params - lr * self.buf
        return params - lr * ratio


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected first and second moments,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``."""

    def __init__(self, settings: OptimizerSettings) -> None:
        super().__init__(settings)
        self.m: Array | None = None
        self.v: Array | None = None

    def _update(self, params: Array, grads: Array, lr: Array) -> Array:
        beta1, beta2 = self.settings.betas
        if self.m is None or self.v is None:
            self.m, self.v = np.zeros_like(grads), np.zeros_like(grads)
        self.m = beta1 * self.m + (1 - beta1) * grads
        self.v = beta2 * self.v + (1 - beta2) * grads * grads
        correction1 = 1 - beta1**self.t
        correction2 = 1 - beta2**self.t
        denom = np.sqrt(self.v) / np.sqrt(correction2) + self.settings.eps
        return params - (lr / correction1) * self.m / denom


_CLASSES: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def make_optimizer(settings: OptimizerSettings) -> Optimizer:
    """A fresh optimizer (new state) for the settings."""
    try:
        return _CLASSES[settings.name](settings)
    except KeyError:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {settings.name!r}") from None
