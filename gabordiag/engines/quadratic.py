"""The exact quadratic-form engine for losses in the MSE family.

The layer's residual is linear in the (effective, flattened) kernel ``k``:
``r = A k - T`` with ``A`` the matrix of the padded image's valid ``ksize x ksize``
patches and ``T = A k*`` the target output. So

    MSE(k) = |A (k - k*)|^2 / P = (k - k*)^T G (k - k*) / P,    G = A^T A,

with ``P`` the number of output pixels. ``G`` (:func:`~gabordiag.engines.gram.gram_matrix`)
is built once; every evaluation after that costs ``O(ksize^4)``, independent of the image
size, and a batch of parameter vectors is one matrix product. The form
``(k - k*)^T G (k - k*)`` rather than ``k^T G k - 2 b^T k + c`` keeps full relative
precision near the target, where the MSE is a small difference of large numbers.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.problem import Problem
from . import gram as gram_module

__all__ = ["QuadraticEngine"]

Array = NDArray[np.float64]

_BLOCK_BYTES = 64 * 2**20  # working memory for one block of kernels


class QuadraticEngine:
    """Exact engine for the MSE family through the Gram matrix of image patches.

    Same interface and results as :class:`~gabordiag.engines.direct.DirectEngine`, for
    ``mse``, ``rmse`` and ``rmse-eps`` and any boundary, op and learnable subset.

    Parameters
    ----------
    problem : Problem
        The problem; its loss must be in the MSE family.
    gram : numpy.ndarray, optional
        A precomputed Gram matrix of ``problem.padded`` (built when omitted).

    Attributes
    ----------
    gram : numpy.ndarray
        ``G``, ``(ksize^2, ksize^2)``.
    target_kernel : numpy.ndarray
        The flattened effective target kernel ``k*``.

    Examples
    --------
    >>> from gabordiag.core.images import make_image
    >>> from gabordiag.config.params import GaborParams
    >>> from gabordiag.core.losses import Loss
    >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
    >>> problem = Problem(make_image("pink", size=24, seed=0), 7, params,
    ...                   ("theta",), Loss("rmse"))
    >>> engine = QuadraticEngine(problem)
    >>> loss, grad = engine.loss_and_grad(np.array([[0.5], [0.7]]))
    >>> float(loss[0]), bool(loss[1] > 0)
    (0.0, True)
    """

    name = "quadratic"

    def __init__(self, problem: Problem, gram: Array | None = None) -> None:
        if not problem.loss.mse_family:
            raise ValueError(f"QuadraticEngine needs a loss in the MSE family "
                             f"(mse, rmse, rmse-eps), got {problem.loss.name!r}")
        n = problem.ksize**2
        if gram is None:
            gram = gram_module.gram_matrix(problem.padded, problem.ksize)
        elif gram.shape != (n, n):
            raise ValueError(f"`gram` must have shape {(n, n)}, got {gram.shape}")
        self.problem = problem
        self.gram = gram
        kernel, _ = problem.effective_kernels(problem.target_vector(), derivatives=False)
        self.target_kernel = kernel.reshape(-1)

    @cached_property
    def gram_norm(self) -> float:
        """An upper bound of ``G``'s largest eigenvalue, its largest absolute row sum:
        ``|A (k - k*)|^2 <= gram_norm |k - k*|^2``, so ``mse * P / gram_norm`` is a lower
        bound of the squared kernel distance to the target."""
        return float(np.max(np.sum(np.abs(self.gram), axis=1)))

    # -- the MSE and its derivatives ------------------------------------------------
    def mse(self, values: ArrayLike) -> Array:
        """The MSE ``(B,)`` for values ``(B, n)``."""
        chunks = self._chunks(values, per_item=2)
        return np.concatenate([self._mse_block(chunk, 0)[0] for chunk in chunks])

    def mse_derivatives(self, values: ArrayLike,
                        order: int = 2) -> tuple[Array, Array, Array | None]:
        """The MSE, its gradient and (``order=2``) the Hessian's diagonal.

        Parameters
        ----------
        values : array_like
            ``(B, n)`` learned-value vectors in ``problem.learn`` order.
        order : {1, 2}

        Returns
        -------
        mse : numpy.ndarray
            ``(B,)``.
        grad : numpy.ndarray
            ``(B, n)``, ``d mse / d p``.
        curv : numpy.ndarray or None
            ``(B, n)``, ``d^2 mse / d p^2`` (``None`` for ``order=1``).
        """
        if order not in (1, 2):
            raise ValueError(f"`order` must be 1 or 2, got {order}")
        n_learn = len(self.problem.learn)
        chunks = self._chunks(values, per_item=2 + order * (1 + n_learn))
        parts = [self._mse_block(chunk, order) for chunk in chunks]
        mse = np.concatenate([part[0] for part in parts])
        grad = np.concatenate([part[1] for part in parts])
        curv = np.concatenate([part[2] for part in parts]) if order == 2 else None
        return mse, grad, curv

    # -- the engine interface -------------------------------------------------------
    def loss_and_grad(self, values: ArrayLike) -> tuple[Array, Array]:
        """Loss ``(B,)`` and gradient ``(B, n)``."""
        mse, dm, _ = self.mse_derivatives(values, order=1)
        value, f1, _ = self.problem.loss.of_mse(mse)
        return value, f1[:, None] * dm

    def loss_grad_curv(self, values: ArrayLike) -> tuple[Array, Array, Array]:
        """Loss, gradient and the Hessian's diagonal, each batched."""
        mse, dm, d2m = self.mse_derivatives(values, order=2)
        assert d2m is not None
        value, f1, f2 = self.problem.loss.of_mse(mse)
        return value, f1[:, None] * dm, f2[:, None] * dm**2 + f1[:, None] * d2m

    def loss(self, values: ArrayLike) -> Array:
        """Loss only, ``(B,)``."""
        return self.problem.loss.of_mse(self.mse(values))[0]

    # -- internals ------------------------------------------------------------------
    def _chunks(self, values: ArrayLike, per_item: int) -> list[Array]:
        batch = np.atleast_2d(np.asarray(values, dtype=np.float64))
        n_learn = len(self.problem.learn)
        if batch.ndim != 2 or batch.shape[1] != n_learn:
            raise ValueError(f"`values` must have shape (B, {n_learn}) for "
                             f"{self.problem.learn}, got {np.shape(values)}")
        size = max(1, _BLOCK_BYTES // (8 * self.gram.shape[0] * 4 * per_item))
        return [batch[i:i + size] for i in range(0, len(batch), size)]

    def _mse_block(self, values: Array, order: int) -> tuple[Array, Array, Array]:
        p = self.problem
        scale = 1.0 / p.n_out
        n = self.gram.shape[0]
        if order == 0:
            kernels, _ = p.effective_kernels(values, derivatives=False)
            dk: dict[str, Array] = {}
        else:
            kernels, dk = p.effective_kernels(values)
        diff = kernels.reshape(-1, n) - self.target_kernel
        g_diff = diff @ self.gram
        mse = np.maximum(np.einsum("bi,bi->b", diff, g_diff) * scale, 0.0)
        grad = np.empty((len(values), len(p.learn)))
        curv = np.empty_like(grad)
        if order == 0:
            return mse, grad, curv
        for j, name in enumerate(p.learn):
            grad[:, j] = 2 * scale * np.einsum("bi,bi->b", g_diff, dk[name].reshape(-1, n))
        if order == 2:
            _, dk2 = p.effective_kernels(values, order=2)
            for j, name in enumerate(p.learn):
                first = dk[name].reshape(-1, n)
                curv[:, j] = 2 * scale * (
                    np.einsum("bi,bi->b", first, first @ self.gram)
                    + np.einsum("bi,bi->b", g_diff, dk2[name].reshape(-1, n)))
        return mse, grad, curv
