"""Fit gabordiag's Gabor model to a kernel array: which (theta, lambda, sigma, gamma,
psi), amplitude and centre reproduce it, and how well.

The model is the package's kernel (DESIGN.md) with an amplitude ``A`` and a centre
``(dx, dy)``::

    m(x, y) = A exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda + psi)
    x' = (x - dx) cos(theta) + (y - dy) sin(theta), y' = -(x - dx) sin(theta) + ...

on ``K[row, col]`` with ``x = col - c``, ``y = row - c``, ``c = k // 2``. At ``A = 1``,
``dx = dy = 0`` it is :func:`gabordiag.core.kernel.gabor_kernel`.

Starts come from a coarse grid seeded by the kernel's spectrum (the carrier's
frequency vector gives theta and lambda) with the amplitude and phase solved linearly
for each candidate; the best few are refined by ``scipy.optimize.least_squares``. The
fitted parameters are put in one canonical form: ``lambda, sigma, gamma, A > 0``,
``theta`` in ``[0, pi)`` (a half turn with ``psi -> -psi`` is the same kernel) and
``psi`` in ``(-pi, pi]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FIT_RTOL", "GaborFit", "fit_gabor", "gabor_model"]

Array = NDArray[np.float64]
ROUNDING_RESIDUAL = 1e-14  # a relative residual below this is float64 rounding
FIT_RTOL = 1e-6  # relative residual below this: the kernel is a Gabor kernel of our form
_NAMES = ("theta", "lambda", "sigma", "gamma", "psi", "amplitude", "dx", "dy")


@dataclass(frozen=True)
class GaborFit:
    """Fitted parameters of :func:`gabor_model` and the relative L2 residual
    ``|K - m| / |K|``."""

    theta: float
    lambd: float
    sigma: float
    gamma: float
    psi: float
    amplitude: float
    dx: float
    dy: float
    residual: float

    @property
    def is_gabor(self) -> bool:
        """Whether the model reproduces the kernel (to :data:`FIT_RTOL`)."""
        return self.residual < FIT_RTOL

    @property
    def residual_text(self) -> str:
        """The residual in words: below :data:`ROUNDING_RESIDUAL` it is rounding, whose
        digits change with the machine's BLAS, so none are printed."""
        if self.residual < ROUNDING_RESIDUAL:
            return f"< {ROUNDING_RESIDUAL:.0e}, rounding"
        return f"{self.residual:.1e}"

    @property
    def period(self) -> float:
        """The kernel's period in theta: pi when ``sin(psi) = 0`` (to 1e-6), else 2 pi."""
        return math.pi if abs(math.sin(self.psi)) < 1e-6 else 2 * math.pi

    def vector(self) -> Array:
        """``(theta, lambda, sigma, gamma, psi, amplitude, dx, dy)``."""
        return np.array([self.theta, self.lambd, self.sigma, self.gamma, self.psi,
                         self.amplitude, self.dx, self.dy])

    def params(self) -> dict[str, float]:
        """The five Gabor parameters by their public names."""
        return {"theta": self.theta, "lambda": self.lambd, "sigma": self.sigma,
                "gamma": self.gamma, "psi": self.psi}

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {**dict(zip(_NAMES, map(float, self.vector()))), "residual": self.residual}


def _grid(shape: tuple[int, int]) -> tuple[Array, Array]:
    rows, cols = shape
    y, x = np.meshgrid(np.arange(rows) - rows // 2, np.arange(cols) - cols // 2,
                       indexing="ij")
    return x.astype(np.float64), y.astype(np.float64)


def _parts(x: Array, y: Array, theta: Any, lambd: Any, sigma: Any, gamma: Any, dx: Any,
           dy: Any) -> tuple[Array, Array]:
    """Envelope and carrier phase (without psi), broadcast over leading parameter axes."""
    c, s = np.cos(theta), np.sin(theta)
    u, v = x - dx, y - dy
    xr = u * c + v * s
    yr = -u * s + v * c
    with np.errstate(under="ignore", over="ignore"):
        env = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    return env, 2 * np.pi * xr / lambd


def gabor_model(shape: tuple[int, int], theta: float, lambd: float, sigma: float,
                gamma: float, psi: float, amplitude: float = 1.0, dx: float = 0.0,
                dy: float = 0.0) -> Array:
    """The model kernel on a ``shape`` grid (centre ``(rows // 2, cols // 2)``).

    Examples
    --------
    >>> from gabordiag.core.kernel import gabor_kernel
    >>> k = gabor_kernel(9, sigma=2.0, theta=0.3, lambd=5.0, gamma=0.5, psi=0.2)
    >>> bool(np.allclose(gabor_model((9, 9), 0.3, 5.0, 2.0, 0.5, 0.2), k))
    True
    """
    x, y = _grid(shape)
    env, phase = _parts(x, y, theta, lambd, sigma, gamma, dx, dy)
    return np.asarray(amplitude * env * np.cos(phase + psi))


def _linear_phase(kernel: Array, env: Array, phase: Array) -> tuple[Array, Array, Array]:
    """For each candidate (leading axes): amplitude, psi and squared residual of the
    best ``A env cos(phase + psi)`` (linear in ``A cos psi`` and ``A sin psi``)."""
    c = env * np.cos(phase)
    s = -env * np.sin(phase)
    cc = np.sum(c * c, axis=(-2, -1))
    ss = np.sum(s * s, axis=(-2, -1))
    cs = np.sum(c * s, axis=(-2, -1))
    kc = np.sum(kernel * c, axis=(-2, -1))
    ks = np.sum(kernel * s, axis=(-2, -1))
    det = cc * ss - cs * cs
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(det > 1e-300, (kc * ss - ks * cs) / det, 0.0)
        b = np.where(det > 1e-300, (ks * cc - kc * cs) / det, 0.0)
    fitted = a[..., None, None] * c + b[..., None, None] * s
    resid = np.sum((kernel - fitted) ** 2, axis=(-2, -1))
    return np.hypot(a, b), np.arctan2(b, a), resid


def _spectral_guess(kernel: Array) -> list[tuple[float, float]]:
    """(theta, lambda) of the strongest peaks of the zero-padded spectrum (the
    carrier's frequency vector), the DC-free half plane."""
    n = 128 if max(kernel.shape) <= 64 else 4 * max(kernel.shape)
    spectrum = np.abs(np.fft.rfft2(kernel, s=(n, n)))
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    order = np.argsort(spectrum, axis=None)[::-1][:4]
    out = []
    for flat in order:
        i, j = np.unravel_index(flat, spectrum.shape)
        f = math.hypot(float(fx[0, j]), float(fy[i, 0]))
        if f < 1e-9:
            continue
        out.append((math.atan2(float(fy[i, 0]), float(fx[0, j])) % math.pi, 1.0 / f))
    return out


def _starts(kernel: Array, x: Array, y: Array, keep: int) -> list[Array]:
    """The best ``keep`` candidates of a coarse grid, amplitude and phase solved."""
    weight = kernel**2
    total = float(weight.sum())
    dx0 = float((weight * x).sum() / total)
    dy0 = float((weight * y).sum() / total)
    size = max(kernel.shape)
    grid_t, grid_l = np.meshgrid(np.arange(8) * math.pi / 8, np.geomspace(2.5, 4.0 * size, 6),
                                 indexing="ij")
    pairs = [*_spectral_guess(kernel), *zip(grid_t.ravel(), grid_l.ravel())]
    sigmas = np.geomspace(0.5, size / 2, 6)
    gammas = np.array([0.3, 0.6, 1.0, 1.5])
    pair, sg, gm = np.meshgrid(np.arange(len(pairs)), sigmas, gammas, indexing="ij")
    table = np.array(pairs)
    th, la = table[pair.ravel(), 0], table[pair.ravel(), 1]
    th, la, sg, gm = (a.ravel()[:, None, None] for a in (th, la, sg, gm))
    env, phase = _parts(x, y, th, la, sg, gm, dx0, dy0)
    amp, psi, resid = _linear_phase(kernel, env, phase)
    best = np.argsort(resid)[:keep]
    return [np.array([th[i, 0, 0], math.log(la[i, 0, 0]), math.log(sg[i, 0, 0]),
                      math.log(gm[i, 0, 0]), psi[i], amp[i], dx0, dy0]) for i in best]


def _unpack(z: Array) -> tuple[float, ...]:
    theta, log_l, log_s, log_g, psi, amp, dx, dy = (float(v) for v in z)
    return theta, math.exp(log_l), math.exp(log_s), math.exp(log_g), psi, amp, dx, dy


def _canonical(theta: float, lambd: float, sigma: float, gamma: float, psi: float,
               amp: float, dx: float, dy: float, residual: float) -> GaborFit:
    if amp < 0:  # -cos(a) = cos(a + pi)
        amp, psi = -amp, psi + math.pi
    turns = math.floor(theta / math.pi)
    theta -= turns * math.pi
    if turns % 2:  # a half turn: x' -> -x', and cos(-a + psi) = cos(a - psi)
        psi = -psi
    psi = math.pi - (math.pi - psi) % (2 * math.pi)  # into (-pi, pi]
    return GaborFit(theta, lambd, sigma, gamma, psi, amp, dx, dy, residual)


def fit_gabor(kernel: Array, start: GaborFit | None = None, starts: int = 4) -> GaborFit:
    """The Gabor model closest to ``kernel`` (least squares).

    Parameters
    ----------
    kernel : array ``(rows, cols)``
    start : GaborFit, optional
        Start from this fit (e.g. a neighbouring kernel's); the grid is searched only
        when that does not reach :data:`FIT_RTOL`.
    starts : int
        How many of the coarse grid's best candidates are refined.

    Examples
    --------
    >>> from gabordiag.core.kernel import gabor_kernel
    >>> k = gabor_kernel(15, sigma=3.0, theta=0.4, lambd=6.0, gamma=0.5, psi=0.0)
    >>> fit = fit_gabor(2.0 * k)
    >>> round(fit.theta, 6), round(fit.lambd, 6), round(fit.amplitude, 6), fit.is_gabor
    (0.4, 6.0, 2.0, True)
    """
    from scipy.optimize import least_squares  # only the layer command pays for it

    kernel = np.asarray(kernel, dtype=np.float64)
    norm = float(np.linalg.norm(kernel))
    if norm == 0 or not np.all(np.isfinite(kernel)):
        return GaborFit(0.0, math.inf, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, math.inf)
    x, y = _grid(kernel.shape)
    scaled = kernel / norm
    warm = [] if start is None or not start.is_gabor else [np.array(
        [start.theta, math.log(start.lambd), math.log(start.sigma), math.log(start.gamma),
         start.psi, start.amplitude / norm, start.dx, start.dy])]

    def residuals(z: Array) -> Array:
        theta, lambd, sigma, gamma, psi, amp, dx, dy = _unpack(z)
        env, phase = _parts(x, y, theta, lambd, sigma, gamma, dx, dy)
        return (amp * env * np.cos(phase + psi) - scaled).ravel()

    best_z, best_cost = np.zeros(8), math.inf
    for attempt in (warm, None):  # the warm start alone when it fits, else the grid
        if attempt is None:
            attempt = _starts(scaled, x, y, starts)
        with np.errstate(all="ignore"):
            for z0 in attempt:
                found = least_squares(residuals, z0, method="lm", xtol=1e-15, ftol=1e-15,
                                      gtol=1e-15, max_nfev=4000)
                if np.isfinite(found.cost) and found.cost < best_cost:
                    best_z, best_cost = found.x, float(found.cost)
                if best_cost < 0.5 * FIT_RTOL**2:
                    break
        if best_cost < 0.5 * FIT_RTOL**2:
            break
    theta, lambd, sigma, gamma, psi, amp, dx, dy = _unpack(best_z)
    residual = math.sqrt(2 * best_cost)  # |scaled| = 1
    return _canonical(theta, lambd, sigma, gamma, psi, amp * norm, dx, dy, residual)
