"""The experiment's objective: loss of a learnable Gabor kernel against a target output.

The layer applies the kernel like a deep-learning conv layer: ``out = op(image, K)``
with ``op`` a cross-correlation (or a convolution) and a ``valid``, ``same`` (zero
padding) or ``circular`` boundary. Every boundary is a valid correlation of a padded
image, which is how the engines see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .custom import KernelModel
from .kernel import PARAM_NAMES, GaborParams, theta_period
from .losses import Loss

__all__ = ["BOUNDARIES", "OPS", "DirectEngine", "Engine", "Problem", "pad_image"]

Array = NDArray[np.float64]

OPS = ("correlate", "convolve")
BOUNDARIES = ("valid", "same", "circular")
_BATCH_BYTES = 64 * 2**20  # working memory for one block of FFTs


def pad_image(image: Array, ksize: int, boundary: str) -> Array:
    """The padded image whose valid correlation gives the requested boundary."""
    c = ksize // 2
    if boundary == "valid":
        return image
    if boundary == "same":
        return np.pad(image, c, mode="constant")
    if boundary == "circular":
        return np.pad(image, c, mode="wrap")
    raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")


@dataclass
class Problem:
    """A target kernel, an image and a loss; some parameters are learned.

    Parameters
    ----------
    image : numpy.ndarray
        2-D float64 input image.
    ksize : int
        Odd kernel size.
    target : GaborParams
        Parameters of the kernel that produces the target output. The learnable
        kernel uses these for every parameter it does not learn.
    learn : tuple of str
        Learned parameter names, in the order of the value vectors.
    loss : Loss
    op, boundary : str
        ``correlate``/``convolve`` and ``valid``/``same``/``circular``.
    """

    image: Array
    ksize: int
    target: GaborParams
    learn: tuple[str, ...]
    loss: Loss
    op: str = "correlate"
    boundary: str = "valid"
    model: KernelModel = field(default_factory=KernelModel)
    padded: Array = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.padded = pad_image(self.image, self.ksize, self.boundary)
        if min(self.padded.shape) < self.ksize:
            raise ValueError(f"the image ({self.image.shape[0]}x{self.image.shape[1]}) "
                             f"is smaller than the kernel ({self.ksize}) for a "
                             f"{self.boundary} boundary")

    @property
    def theta_period(self) -> float:
        """The kernel's period in theta: pi or 2 pi for the Gabor kernel (from psi); 2 pi
        for a user kernel, whose symmetry is not known."""
        if self.model.name != "gabor":
            return float(2 * np.pi)
        return theta_period(self.target.psi)

    def kernels(self, params: Mapping[str, ArrayLike], names: tuple[str, ...] = (),
                order: int = 1) -> tuple[Array, dict[str, Array]]:
        """Kernels (not flipped) and derivatives from the problem's kernel model."""
        return self.model.derivatives(self.ksize, params, names, order)

    @property
    def out_shape(self) -> tuple[int, int]:
        """Shape of the layer's output."""
        h, w = self.padded.shape
        return h - self.ksize + 1, w - self.ksize + 1

    @property
    def n_out(self) -> int:
        """Number of output pixels, the P in mse = |r|^2 / P."""
        h, w = self.out_shape
        return h * w

    def target_vector(self) -> Array:
        """The target's values of the learned parameters."""
        values = self.target.as_dict()
        return np.array([values[name] for name in self.learn])

    def full_params(self, values: Array) -> dict[str, Array]:
        """All five parameters for a batch of learned-value vectors ``(B, n)``."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        fixed = self.target.as_dict()
        out: dict[str, Array] = {}
        for name in PARAM_NAMES:
            if name in self.learn:
                out[name] = values[:, self.learn.index(name)]
            else:
                out[name] = np.full(values.shape[0], fixed[name])
        return out

    def effective_kernels(self, values: Array, order: int = 1,
                          derivatives: bool = True) -> tuple[Array, dict[str, Array]]:
        """Kernels as the valid correlation sees them (flipped for ``convolve``)."""
        names = self.learn if derivatives else ()
        k, d = self.model.derivatives(self.ksize, self.full_params(values), names, order)
        if self.op == "convolve":
            k = k[..., ::-1, ::-1]
            d = {name: v[..., ::-1, ::-1] for name, v in d.items()}
        return k, d


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

    def residuals(self, values: Array) -> Array:
        """Output minus target output, ``(B, h, w)``."""
        return self.outputs(values) - self.target_output

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


def make_values(problem: Problem, overrides: Mapping[str, float]) -> Array:
    """A value vector for ``problem.learn`` from the target with some values replaced."""
    base = problem.target.as_dict()
    base.update(overrides)
    return np.array([base[name] for name in problem.learn], dtype=np.float64)
