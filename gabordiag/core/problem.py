"""The problem: a learnable Gabor kernel, an image, a target output and a loss.

The layer applies the kernel like a deep-learning conv layer: ``out = op(image, K)``
with ``op`` a cross-correlation (or a convolution) and a ``valid``, ``same`` (zero
padding) or ``circular`` boundary. Every boundary is a valid correlation of a padded
image, which is how the engines (:mod:`gabordiag.engines`) see it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config.choices import BOUNDARIES, PARAM_NAMES
from ..config.params import GaborParams
from ..errors import ConfigError
from .losses import Loss
from .user import KernelModel

__all__ = ["FLAT_RTOL", "KERNEL_RTOL", "PARAM_ATOL", "Problem", "pad_image"]

Array = NDArray[np.float64]

# The one kernel-equivalence tolerance: a kernel within this relative L2 distance of the
# target's is the target's kernel (parameters within PARAM_ATOL: the target itself).
KERNEL_RTOL = 1e-3
PARAM_ATOL = 1e-3
# A kernel derivative below this fraction of the kernel (L2) is rounding: at gamma 100 the
# line-thin kernel at pi/4 runs through pixel centres and its theta derivative is 8e-13
# of it, where the reference case's is 3.3.
FLAT_RTOL = 1e-9
_BLOCK_ELEMENTS = 2**16  # kernel entries per block of a batched kernel comparison


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
        """The kernel's period in theta: pi or 2 pi (from psi for the Gabor kernel,
        measured on samples for a user kernel)."""
        return self._period[0]

    @cached_property
    def _period(self) -> tuple[float, str]:
        return self.model.theta_period(self.ksize, self.target.as_dict())

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

    def target_kernel(self) -> Array:
        """The effective target kernel, ``(k, k)``."""
        return self.effective_kernels(self.target_vector(), derivatives=False)[0][0]

    def kernel_errors(self, values: ArrayLike) -> Array:
        """``|K(values) - K*| / |K*|`` for a batch of value vectors ``(B, n)``."""
        batch = np.atleast_2d(np.asarray(values, dtype=np.float64))
        # each distinct vector once (runs that converged share their last values, to
        # the bit), in blocks of kernels whose temporaries stay in the cache
        distinct, inverse = np.unique(batch, axis=0, return_inverse=True)
        target = self.target_kernel().reshape(-1)
        scale = np.linalg.norm(target)
        out = np.empty(len(distinct))
        block = max(1, _BLOCK_ELEMENTS // target.size)
        for first in range(0, len(distinct), block):
            kernels, _ = self.effective_kernels(distinct[first:first + block],
                                                derivatives=False)
            diff = kernels.reshape(len(kernels), -1) - target
            out[first:first + block] = np.linalg.norm(diff, axis=1) / scale
        return out[inverse.reshape(-1)]

    def gives_target_kernel(self, values: ArrayLike) -> NDArray[np.bool_]:
        """Whether each value vector gives the target's kernel (to :data:`KERNEL_RTOL`)."""
        return self.kernel_errors(values) < KERNEL_RTOL

    def flat_at_target(self, name: str) -> bool:
        """Whether the target kernel does not change to first order in ``name`` (its
        derivative is rounding, :data:`FLAT_RTOL`): the loss's minimum there is flatter
        than quadratic, and sqrt of it (rmse) is smooth, not a kink."""
        kernel, derivative = self.kernels(self.target.as_dict(), (name,))
        scale = float(np.linalg.norm(kernel))
        return scale > 0 and float(np.linalg.norm(derivative[name])) < FLAT_RTOL * scale

    def has_effect(self, name: str, samples: int = 7) -> bool:
        """Whether changing ``name`` changes the kernel at all (e.g. theta does not when
        the envelope is isotropic and there is no carrier)."""
        base = self.target.as_dict()
        kernel, derivative = self.kernels(base, (name,))
        scale = float(np.linalg.norm(kernel))
        tol = 1e-12 if self.model.analytic else 1e-7  # finite differences are noisier
        if float(np.linalg.norm(derivative[name])) > tol * scale:
            return True
        if name == "theta":  # check more than one orientation, the derivative could vanish
            for theta in np.linspace(0, np.pi, samples, endpoint=False):
                _, d = self.kernels({**base, "theta": theta}, (name,))
                if float(np.linalg.norm(d[name])) > tol * scale:
                    return True
        return False

    def period_of(self, param: str) -> tuple[float | None, str]:
        """The loss's period in ``param`` and why (``None``: not periodic)."""
        if param == "psi":
            return 2 * math.pi, "psi is a phase: cos(a + psi) returns after 2pi"
        if param != "theta":
            return None, f"{param} is not an angle: the loss is not periodic in it"
        if "psi" in self.learn:
            return 2 * math.pi, "psi is learned, so only the 2pi period of the rotation is certain"
        return self._period

    def default_span(self, param: str) -> tuple[float, float]:
        """One period centred on the target for angles; 0.25x to 4x the target otherwise."""
        value = self.target.as_dict()[param]
        period, _ = self.period_of(param)
        if period is not None:
            return value - period / 2, value + period / 2
        if not math.isfinite(value):
            raise ConfigError(f"--range: {param} = {value} has no finite default range; "
                              "give --range LOW,HIGH")
        return 0.25 * value, 4.0 * value
