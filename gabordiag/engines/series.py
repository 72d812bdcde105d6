"""Trigonometric series and the factors the spectral engine multiplies them by.

Each function returns a value and its first derivatives as a list ``[f, f', f'']``
(as many as asked for), so that products and roots can be differentiated exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["Series", "one_minus_cos", "product_rule", "root_of_one_minus_cos", "square_root",
           "tail_ratio", "trim"]

Array = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

TRIM = 1e-15  # coefficients below this fraction of the largest are dropped
_SQRT2 = float(np.sqrt(2.0))
_SINGLE_THREAD_PRODUCT = 65536  # m * n * k below which OpenBLAS runs a product on one thread
_KEEP_ELEMENTS = 2**20  # work arrays up to this many complex entries are kept between calls


def tail_ratio(coefficients: ComplexArray) -> float:
    """Largest ``|C_n|`` over the top quarter of modes, relative to the largest."""
    magnitude = np.abs(coefficients)
    largest = float(np.max(magnitude))
    if largest == 0.0:
        return 0.0
    n = len(coefficients)
    return float(np.max(magnitude[n - max(1, n // 4):])) / largest


def trim(coefficients: ComplexArray, ratio: float) -> ComplexArray:
    """Drop the trailing modes below the noise floor (``_TRIM`` or the tail)."""
    magnitude = np.abs(coefficients)
    largest = float(np.max(magnitude))
    if largest == 0.0:
        return coefficients[:1]
    cut = max(TRIM, ratio) * largest
    last = int(np.nonzero(magnitude > cut)[0][-1])
    return coefficients[:last + 1].copy()


def one_minus_cos(sh: Array, ch: Array, omega: float, order: int) -> list[Array]:
    """``1 - cos(omega delta)`` and its first ``order`` derivatives (half-angle sin/cos)."""
    s = 2 * sh * sh
    out = [s]
    if order >= 1:
        out.append((2 * omega) * sh * ch)
    if order >= 2:
        out.append(omega**2 * (1 - s))
    return out


def root_of_one_minus_cos(sh: Array, ch: Array, omega: float, order: int) -> list[Array]:
    """``sqrt(1 - cos(omega delta)) = sqrt(2) |sin(omega delta / 2)|`` and derivatives.

    The first derivative is taken as 0 where ``sin`` vanishes (the kink), as
    :class:`~gabordiag.core.losses.Loss` takes the rmse gradient at ``mse == 0``.
    """
    u = _SQRT2 * np.abs(sh)
    out = [u]
    if order >= 1:
        out.append((0.5 * _SQRT2 * omega) * np.sign(sh) * ch)
    if order >= 2:
        out.append((-0.25 * omega**2) * u)
    return out


def square_root(h: list[Array], order: int) -> list[Array]:
    """``sqrt(h)`` and its first ``order`` derivatives (0 where ``h <= 0``)."""
    v = np.sqrt(np.maximum(h[0], 0.0))
    out = [v]
    if order >= 1:
        twice, positive = 2 * v, v > 0
        dv = np.divide(h[1], twice, out=np.zeros_like(v), where=positive)
        out.append(dv)
        if order >= 2:
            out.append(np.divide(h[2] - 2 * dv * dv, twice, out=np.zeros_like(v),
                                 where=positive))
    return out


def product_rule(a: list[Array], b: list[Array]) -> list[Array]:
    """``a b`` and its derivatives, as many as both factors have."""
    order = min(len(a), len(b)) - 1
    out = [a[0] * b[0]]
    if order >= 1:
        out.append(a[1] * b[0] + a[0] * b[1])
    if order >= 2:
        out.append(a[2] * b[0] + 2 * a[1] * b[1] + a[0] * b[2])
    return out


class Series:
    """``h``, ``h'`` and ``h''`` of ``h(delta) = Re sum_n C_n z^n``, ``z = e^{i omega delta}``.

    Baby-step giant-step: with ``n = L g + a`` (``a < L ~ sqrt(N)``), one small matrix
    product of the powers ``z^a`` with the reshaped coefficients, then Horner's rule
    in ``z^L`` over the ``G ~ sqrt(N)`` blocks: ``O(N)`` work in ``O(sqrt(N))``
    vector operations, and only two transcendental calls per angle.
    """

    def __init__(self, coefficients: ComplexArray, omega: float) -> None:
        n_modes = len(coefficients)
        self.baby = max(2, int(np.ceil(np.sqrt(n_modes))))
        self.giant = -(-n_modes // self.baby)
        w = omega * np.arange(n_modes)
        columns = np.stack([coefficients, 1j * w * coefficients, -(w**2) * coefficients],
                           axis=1)
        padded = np.zeros((self.giant * self.baby, 3), dtype=np.complex128)
        padded[:n_modes] = columns
        blocks = padded.reshape(self.giant, self.baby, 3)  # [g, a, r] = C'_r[g L + a]
        # One table per order: [g * (order + 1) + r, a].
        self.tables = [np.ascontiguousarray(
            blocks[:, :, :order + 1].transpose(0, 2, 1).reshape(-1, self.baby))
            for order in range(3)]
        self._work: dict[tuple[int, int], tuple[ComplexArray, ...]] = {}

    def _buffers(self, size: int, order: int) -> tuple[ComplexArray, ...]:
        """Work arrays ``z``, the powers, the products and ``z^L`` for ``size`` angles,
        kept for the next call of that size (a descent calls with one size every step)."""
        key = (size, order)
        work = self._work.get(key)
        if work is None:
            powers = np.empty((self.baby, size), dtype=np.complex128)
            powers[0] = 1.0
            work = (np.empty(size, dtype=np.complex128), powers,
                    np.empty((self.tables[order].shape[0], size), dtype=np.complex128),
                    np.empty(size, dtype=np.complex128))
            if size * (self.baby + self.tables[order].shape[0]) <= _KEEP_ELEMENTS:
                if len(self._work) >= 8:
                    self._work.clear()
                self._work[key] = work
        return work

    def evaluate(self, sh: Array, ch: Array, order: int) -> list[Array]:
        """``h`` and its first ``order`` derivatives from the half-angle sin and cos."""
        z, powers, flat, step = self._buffers(len(sh), order)
        z.real = 1 - 2 * sh * sh
        z.imag = 2 * sh * ch
        powers[1] = z
        for a in range(2, self.baby):
            np.multiply(powers[a - 1], z, out=powers[a])
        np.multiply(powers[-1], z, out=step)  # z^L
        table = self.tables[order]
        # Column blocks keep each product below BLAS's threading threshold: threads
        # cost more than they save on products this small, and stall on a busy machine.
        width = max(256, _SINGLE_THREAD_PRODUCT // table.size)
        for first in range(0, len(z), width):
            np.matmul(table, powers[:, first:first + width], out=flat[:, first:first + width])
        parts = flat.reshape(self.giant, order + 1, len(z))
        total = parts[-1].copy()
        for g in range(self.giant - 2, -1, -1):
            total *= step
            total += parts[g]
        return [total[r].real for r in range(order + 1)]
