"""The direct engine: FFT correlation of the image for every evaluation (the reference)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..core.problem import Problem

__all__ = ["DirectEngine"]

Array = NDArray[np.float64]
_BATCH_BYTES = 64 * 2**20  # working memory for one block of FFTs


class DirectEngine:
    """The reference engine: FFT correlation of the image for every evaluation.

    Works for every loss, boundary and learnable subset. Each evaluation costs a few
    FFTs of the padded image.
    """

    name = "direct"

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        p = problem
        self._fft_shape = p.padded.shape
        self._image_fft = np.fft.rfft2(p.padded)
        target_kernel, _ = p.effective_kernels(p.target_vector(), derivatives=False)
        self.target_output = self._correlate(target_kernel)[0]

    # -- FFT helpers ----------------------------------------------------------------
    def _correlate(self, kernels: Array) -> Array:
        """Valid correlation of the padded image with kernels ``(B, k, k)``."""
        kf = np.fft.rfft2(kernels.reshape(-1, *kernels.shape[-2:]), s=self._fft_shape)
        full = np.fft.irfft2(self._image_fft * np.conj(kf), s=self._fft_shape)
        h, w = self.problem.out_shape
        return full[:, :h, :w]

    def _adjoint(self, grad_out: Array) -> Array:
        """dL/dK from dL/d(output) ``(B, h, w)``: correlate the image with it."""
        gf = np.fft.rfft2(grad_out, s=self._fft_shape)
        full = np.fft.irfft2(self._image_fft * np.conj(gf), s=self._fft_shape)
        k = self.problem.ksize
        return full[:, :k, :k]

    def outputs(self, values: Array) -> Array:
        """Layer outputs for a batch of value vectors."""
        kernels, _ = self.problem.effective_kernels(values, derivatives=False)
        return self._correlate(kernels)

    # -- loss -----------------------------------------------------------------------
    def _chunks(self, values: Array) -> list[Array]:
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        per_item = 8 * self._image_fft.size * 2 * (2 + len(self.problem.learn))
        size = max(1, _BATCH_BYTES // per_item)
        return [values[i:i + size] for i in range(0, len(values), size)]

    def loss_and_grad(self, values: Array) -> tuple[Array, Array]:
        """Loss ``(B,)`` and gradient ``(B, n)``."""
        parts = [self._block(chunk, curvature=False) for chunk in self._chunks(values)]
        return np.concatenate([a for a, _, _ in parts]), np.concatenate([b for _, b, _ in parts])

    def loss_grad_curv(self, values: Array) -> tuple[Array, Array, Array]:
        """Loss, gradient and the Hessian's diagonal, each batched."""
        parts = [self._block(chunk, curvature=True) for chunk in self._chunks(values)]
        return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))  # type: ignore[return-value]

    def loss(self, values: Array) -> Array:
        """Loss only, ``(B,)``."""
        return self.loss_and_grad(values)[0]

    def _block(self, values: Array, curvature: bool) -> tuple[Array, Array, Array | None]:
        p = self.problem
        kernels, dk = p.effective_kernels(values)
        r = self._correlate(kernels) - self.target_output
        n_out = p.n_out
        axes = (1, 2)
        if p.loss.mse_family:
            mse = np.sum(r * r, axis=axes) / n_out
            value, f1, f2 = p.loss.of_mse(mse)
            weights = (2.0 / n_out) * r * f1[:, None, None]  # dL/d(output)
        else:
            rho, d1, d2 = p.loss.elementwise(r)
            value = rho.sum(axis=axes) / n_out
            weights = d1 / n_out
        grad_kernel = self._adjoint(weights)
        grad = np.stack([np.sum(grad_kernel * dk[name], axis=axes) for name in p.learn],
                        axis=1)
        if not curvature:
            return value, grad, None
        _, dk2 = p.effective_kernels(values, order=2)
        curv = np.empty_like(grad)
        for j, name in enumerate(p.learn):
            response = self._correlate(dk[name])  # d(output)/dp
            second = np.sum(grad_kernel * dk2[name], axis=axes)
            if p.loss.mse_family:
                dmse = 2.0 / n_out * np.sum(r * response, axis=axes)
                d2mse = 2.0 / n_out * np.sum(response * response, axis=axes)
                # L'' = f'' m'^2 + f' m''; `second` is the f' * (2/P) r . A d2K part of
                # f' m'', so only the |A dK|^2 part is added here.
                curv[:, j] = f2 * dmse**2 + f1 * d2mse + second
            else:
                curv[:, j] = np.sum(d2 * response**2, axis=axes) / n_out + second
        return value, grad, curv
