"""Gabor kernel and its analytic partial derivatives.

The convention (an external contract, see the README):

    g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / lambda + psi)
    x' =  x cos(theta) + y sin(theta)
    y' = -x sin(theta) + y cos(theta)

with ``K[row, col] = g(x=col - c, y=row - c)``, ``c = ksize // 2`` (y points down).
Every function here broadcasts over arrays of parameters: parameters of shape ``S``
give kernels of shape ``S + (ksize, ksize)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config.params import PARAM_NAMES

__all__ = [
    "PERIOD_LABELS",
    "aliasing_onset",
    "gabor_kernel",
    "gabor_kernels",
    "kernel_derivatives",
    "period_label",
    "theta_period",
]

Array = NDArray[np.float64]

PERIOD_LABELS = {"pi": math.pi, "2pi": 2 * math.pi}


def theta_period(psi: float) -> float:
    """Period of the kernel in theta: pi when ``sin(psi) == 0``, else 2 pi.

    Rotating by pi maps x' -> -x', y' -> -y'; the envelope is even and
    ``cos(-a + psi) == cos(a + psi)`` for all ``a`` only when ``sin(psi) == 0``.
    """
    return math.pi if abs(math.sin(psi)) < 1e-12 else 2 * math.pi


def aliasing_onset(theta: float) -> float:
    """The wavelength below which the carrier at orientation ``theta`` aliases on the
    pixel grid: ``2 max(|cos theta|, |sin theta|)``, where its larger frequency component
    ``max(|cos|, |sin|) / lambda`` passes half a cycle per pixel (2 on the axes, sqrt 2 on
    the diagonals)."""
    return 2 * max(abs(math.cos(theta)), abs(math.sin(theta)))


def period_label(period: float | None) -> str | None:
    """``"pi"`` or ``"2pi"`` for a period in theta (``None`` when there is none or it
    is neither). The one place a period becomes a word.

    Examples
    --------
    >>> period_label(theta_period(0.0)), period_label(theta_period(0.5)), period_label(None)
    ('pi', '2pi', None)
    """
    if period is None:
        return None
    for label, value in PERIOD_LABELS.items():
        if abs(period - value) < 1e-9:
            return label
    return None


def _grid(ksize: int) -> tuple[Array, Array]:
    if ksize < 1 or ksize % 2 == 0:
        raise ValueError(f"`ksize` must be odd and >= 1, got {ksize}")
    c = ksize // 2
    coords = np.arange(ksize, dtype=np.float64) - c
    y, x = np.meshgrid(coords, coords, indexing="ij")
    return x, y


class _Parts:
    """Rotated coordinates, envelope and carrier for broadcast parameters."""

    def __init__(self, ksize: int, theta: ArrayLike, lambd: ArrayLike,
                 sigma: ArrayLike, gamma: ArrayLike, psi: ArrayLike) -> None:
        x, y = _grid(ksize)
        th, lam, sg, gm, ps = (np.asarray(v, dtype=np.float64)[..., None, None]
                               for v in (theta, lambd, sigma, gamma, psi))
        with np.errstate(under="ignore"):  # exp(-large) -> 0 is the right value
            self._build(x, y, th, lam, sg, gm, ps)

    def _build(self, x: Array, y: Array, th: Array, lam: Array, sg: Array, gm: Array,
               ps: Array) -> None:
        cos_t, sin_t = np.cos(th), np.sin(th)
        self.xr = x * cos_t + y * sin_t
        self.yr = -x * sin_t + y * cos_t
        self.lam, self.sigma, self.gamma = lam, sg, gm
        self.s = self.xr**2 + gm**2 * self.yr**2
        self.env = np.exp(-self.s / (2 * sg**2))
        self.k = 2 * np.pi / lam  # angular frequency of the carrier
        self._phase = self.k * self.xr + ps
        self.cos = np.cos(self._phase)
        self.g = self.env * self.cos

    @cached_property
    def sin(self) -> Array:
        """``sin`` of the carrier's phase (only the derivatives need it)."""
        return np.sin(self._phase)


def gabor_kernels(ksize: int, *, theta: ArrayLike, lambd: ArrayLike, sigma: ArrayLike,
                  gamma: ArrayLike, psi: ArrayLike) -> Array:
    """Gabor kernels for broadcast parameter arrays, shape ``S + (ksize, ksize)``."""
    return _Parts(ksize, theta, lambd, sigma, gamma, psi).g


def gabor_kernel(ksize: int, *, sigma: float, theta: float, lambd: float,
                 gamma: float = 1.0, psi: float = 0.0) -> Array:
    """A float64 Gabor kernel of size ``ksize x ksize``.

    Parameters
    ----------
    ksize : int
        Odd side length.
    sigma, theta, lambd, gamma, psi : float
        Envelope width, orientation (radians), wavelength, aspect ratio, phase.

    Returns
    -------
    numpy.ndarray
        ``K[row, col] = g(x=col - c, y=row - c)`` with ``c = ksize // 2``; equal to
        ``cv2.getGaborKernel((ksize, ksize), sigma, theta, lambd, gamma, -psi,
        ktype=cv2.CV_64F)``.

    Examples
    --------
    >>> k = gabor_kernel(5, sigma=2.0, theta=0.0, lambd=4.0, gamma=0.5, psi=0.0)
    >>> k.shape, float(k[2, 2])
    ((5, 5), 1.0)
    """
    return gabor_kernels(ksize, theta=theta, lambd=lambd, sigma=sigma, gamma=gamma, psi=psi)


def kernel_derivatives(ksize: int, params: Mapping[str, ArrayLike],
                       names: tuple[str, ...] | list[str] = PARAM_NAMES,
                       order: int = 1) -> tuple[Array, dict[str, Array]]:
    """The kernel and its analytic partial derivatives.

    Parameters
    ----------
    ksize : int
        Odd side length.
    params : mapping
        ``theta``, ``lambda``, ``sigma``, ``gamma``, ``psi`` (scalars or broadcastable
        arrays).
    names : sequence of str
        Parameters to differentiate with respect to.
    order : {1, 2}
        1 for first derivatives; 2 for the pure second derivatives
        ``d^2 K / d p^2`` (the diagonal of the Hessian).

    Returns
    -------
    kernel : numpy.ndarray
    derivatives : dict
        ``name -> dK/dp`` (or ``d^2K/dp^2`` for ``order=2``), each shaped like the
        kernel.

    Examples
    --------
    >>> p = dict(theta=0.3, **{"lambda": 8.0}, sigma=3.0, gamma=0.5, psi=0.0)
    >>> k, d = kernel_derivatives(9, p, ["theta"])
    >>> d["theta"].shape
    (9, 9)
    """
    if order not in (1, 2):
        raise ValueError(f"`order` must be 1 or 2, got {order}")
    unknown = set(names) - set(PARAM_NAMES)
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}; allowed: {PARAM_NAMES}")
    p = _Parts(ksize, params["theta"], params["lambda"], params["sigma"],
               params["gamma"], params["psi"])
    table = _FIRST if order == 1 else _SECOND
    return p.g, {name: table[name](p) for name in names}


# First derivatives -------------------------------------------------------------------

def _d_dx(p: _Parts) -> Array:
    """dg/dx' (partial in the rotated frame)."""
    return p.env * (-p.xr / p.sigma**2 * p.cos - p.k * p.sin)


def _d_dy(p: _Parts) -> Array:
    """dg/dy' (partial in the rotated frame)."""
    return -(p.gamma**2) * p.yr / p.sigma**2 * p.g


def _d_theta(p: _Parts) -> Array:
    # rotation generator: dx'/dtheta = y', dy'/dtheta = -x'
    return p.yr * _d_dx(p) - p.xr * _d_dy(p)


def _d_lambda(p: _Parts) -> Array:
    return p.env * p.sin * p.k * p.xr / p.lam


def _d_sigma(p: _Parts) -> Array:
    return p.g * p.s / p.sigma**3


def _d_gamma(p: _Parts) -> Array:
    return -p.g * p.gamma * p.yr**2 / p.sigma**2


def _d_psi(p: _Parts) -> Array:
    return -p.env * p.sin


# Pure second derivatives ---------------------------------------------------------------

def _d2_theta(p: _Parts) -> Array:
    # d/dtheta (y' g_x - x' g_y) = -x' g_x - y' g_y + y'^2 g_xx - 2 x'y' g_xy + x'^2 g_yy
    gx, gy = _d_dx(p), _d_dy(p)
    a = p.xr / p.sigma**2
    gxx = p.env * ((a**2 - 1 / p.sigma**2 - p.k**2) * p.cos + 2 * a * p.k * p.sin)
    b = p.gamma**2 * p.yr / p.sigma**2
    gxy = -b * gx
    gyy = (b**2 - p.gamma**2 / p.sigma**2) * p.g
    return (-p.xr * gx - p.yr * gy + p.yr**2 * gxx - 2 * p.xr * p.yr * gxy
            + p.xr**2 * gyy)


def _d2_lambda(p: _Parts) -> Array:
    u = p.k * p.xr / p.lam  # d(phase)/d(lambda) = -u
    return -p.env * (p.cos * u**2 + p.sin * 2 * u / p.lam)


def _d2_sigma(p: _Parts) -> Array:
    return p.g * (p.s**2 / p.sigma**6 - 3 * p.s / p.sigma**4)


def _d2_gamma(p: _Parts) -> Array:
    return p.g * (p.gamma**2 * p.yr**4 / p.sigma**4 - p.yr**2 / p.sigma**2)


def _d2_psi(p: _Parts) -> Array:
    return -p.g


_FIRST = {"theta": _d_theta, "lambda": _d_lambda, "sigma": _d_sigma,
          "gamma": _d_gamma, "psi": _d_psi}
_SECOND = {"theta": _d2_theta, "lambda": _d2_lambda, "sigma": _d2_sigma,
           "gamma": _d2_gamma, "psi": _d2_psi}
