"""The spectral engine: the MSE in theta as an exact Fourier series.

When only the orientation is learned, the MSE is a smooth periodic function of theta
(period ``pi`` when ``sin(psi) == 0``, else ``2 pi``) whose Fourier coefficients decay
super-exponentially. Sampled exactly (through the quadratic form) at a few hundred
equispaced angles, its series is known to machine precision; after that a loss,
gradient or curvature costs ``O(modes)`` and every stationary point is a root of a
trigonometric polynomial.

The MSE vanishes at the target angle ``theta*`` with a double zero, and the series of
``m`` would only know it to ``eps * max(m)`` there. The engine therefore expands

    h(delta) = m(theta* + delta) / (1 - cos(omega delta)),    omega = 2 pi / period,

which is as smooth as ``m`` (the zeros of ``1 - cos`` are the target and its periodic
copies), and multiplies back: ``m = (1 - cos) h`` keeps full relative precision near
the target, so ``rmse`` and its gradient stay accurate where they are smallest.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..core.losses import Loss
from ..core.problem import Problem
from ..errors import LimitError
from .quadratic import QuadraticEngine
from .roots import RootBounds, periodic_roots
from .series import (
    Series,
    one_minus_cos,
    product_rule,
    root_of_one_minus_cos,
    square_root,
    tail_ratio,
    trim,
)

__all__ = ["SpectralEngine"]

Array = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

_TAIL_TOL = 1e-13  # the coefficient tail must fall below this fraction of the largest
_FIRST_SAMPLES = 256
_MAX_SAMPLES = 8192
_PROBES = 8  # points between two close roots that may show them apart
_SLOPE_BLOCK = 1 << 16  # angles per evaluation there (the series' tables are modes wide)


class SpectralEngine:
    """Exact engine for theta-only problems with a loss in the MSE family.

    Parameters
    ----------
    problem : Problem
        ``problem.learn == ("theta",)`` and a loss in ``mse``, ``rmse``, ``rmse-eps``.
    gram : numpy.ndarray, optional
        A precomputed Gram matrix of ``problem.padded``.
    tol : float
        The coefficient tail (largest magnitude among the top quarter of modes) must
        fall below ``tol`` times the largest coefficient.
    max_samples : int
        Largest number of samples per period before giving up.

    Attributes
    ----------
    period : float
        Period of the loss in theta (the kernel's, :attr:`Problem.theta_period`).
    n_samples : int
        Exact samples used for the fit.
    n_modes : int
        Fourier modes kept (of ``h``, see the module docstring).
    tail_ratio : float
        The coefficient tail relative to the largest coefficient (``<= tol``).
    quadratic : QuadraticEngine
        The quadratic-form engine that produced the samples.

    Raises
    ------
    ValueError
        For problems it cannot handle.
    gabordiag.errors.LimitError
        When the tail does not fall below ``tol`` within ``max_samples`` samples.

    Examples
    --------
    >>> from gabordiag.core.images import make_image
    >>> from gabordiag.config.params import GaborParams
    >>> from gabordiag.core.losses import Loss
    >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
    >>> problem = Problem(make_image("pink", size=32, seed=0), 7, params,
    ...                   ("theta",), Loss("rmse"))
    >>> engine = SpectralEngine(problem)
    >>> bool(engine.tail_ratio < 1e-13), round(engine.period, 6)
    (True, 3.141593)
    >>> loss, grad = engine.loss_and_grad(np.array([[0.5], [1.0]]))
    >>> float(loss[0])
    0.0
    """

    name = "spectral"

    def __init__(self, problem: Problem, gram: Array | None = None, *,
                 tol: float = _TAIL_TOL, max_samples: int = _MAX_SAMPLES) -> None:
        if problem.learn != ("theta",) or not problem.loss.mse_family:
            raise ValueError("SpectralEngine needs learn == ('theta',) and a loss in the "
                             f"MSE family, got learn={problem.learn}, "
                             f"loss={problem.loss.name!r}")
        self.problem = problem
        self.quadratic = QuadraticEngine(problem, gram)
        self.period = problem.theta_period
        self.omega = 2 * np.pi / self.period
        self.center = float(problem.target.theta)
        coefficients, self.n_samples, self.tail_ratio = self._fit(tol, max_samples)
        self._coefficients = trim(coefficients, self.tail_ratio)
        self.n_modes = len(self._coefficients)
        self._series = Series(self._coefficients, self.omega)
        self._stationary: Array | None = None  # computed on first use

    @property
    def gram_norm(self) -> float:
        """An upper bound of the Gram matrix's largest eigenvalue
        (:attr:`QuadraticEngine.gram_norm`)."""
        return self.quadratic.gram_norm

    def for_loss(self, loss: Loss) -> SpectralEngine:
        """The same fitted series with another loss of the MSE family (no refit)."""
        if not loss.mse_family:
            raise ValueError(f"SpectralEngine needs a loss in the MSE family, got {loss.name!r}")
        other = copy.copy(self)
        other.problem = replace(self.problem, loss=loss)
        other.quadratic = QuadraticEngine(other.problem, self.quadratic.gram)
        return other

    # -- the fit --------------------------------------------------------------------
    def _fit(self, tol: float, max_samples: int) -> tuple[ComplexArray, int, float]:
        """Complex coefficients ``C_n`` of ``h(delta) = Re sum C_n e^{i n omega delta}``."""
        n_samples = _FIRST_SAMPLES
        while True:
            coefficients = self._coefficients_from(n_samples)
            ratio = tail_ratio(coefficients)
            if ratio <= tol:
                return coefficients, n_samples, ratio
            if 2 * n_samples > max_samples:
                raise LimitError(
                    f"the Fourier series of the loss in theta did not converge: the "
                    f"coefficient tail is {ratio:.1e} of the largest with {n_samples} "
                    f"samples (needs < {tol:.0e}); use --engine quadratic")
            n_samples *= 2

    def _coefficients_from(self, n_samples: int) -> ComplexArray:
        # Samples at delta_j = (j + 1/2) period / M never hit the zero of 1 - cos.
        delta = (np.arange(n_samples) + 0.5) * (self.period / n_samples)
        mse = self.quadratic.mse(self.center + delta[:, None])
        h = mse / (2 * np.sin(0.5 * self.omega * delta) ** 2)
        modes = np.arange(n_samples // 2)
        spectrum = np.fft.fft(h)[: n_samples // 2] / n_samples
        coefficients = spectrum * np.exp(-1j * np.pi * modes / n_samples)
        coefficients[1:] *= 2  # the negative frequencies, folded onto the positive ones
        coefficients[0] = coefficients[0].real
        return coefficients

    def fourier_series(self) -> tuple[Array, Array]:
        """The MSE's real Fourier series in theta.

        Returns
        -------
        a, b : numpy.ndarray
            ``mse(theta) = sum_n a[n] cos(n omega theta) + b[n] sin(n omega theta)``
            with ``omega = 2 pi / period`` (``b[0] == 0``).
        """
        c = self._mse_two_sided()  # n = -N..N in delta
        n_max = (len(c) - 1) // 2
        modes = np.arange(n_max + 1)
        positive = c[n_max:] * np.exp(-1j * modes * self.omega * self.center)
        a = 2 * positive.real
        b = -2 * positive.imag
        a[0] /= 2
        b[0] = 0.0
        return a, b

    def _mse_two_sided(self) -> ComplexArray:
        """Two-sided coefficients ``c_n``, ``n = -N..N``, of ``m(theta* + delta)``."""
        half = self._coefficients.copy()
        half[1:] /= 2
        h = np.concatenate([np.conj(half[:0:-1]), half])  # n = -(N-1)..N-1
        padded = np.concatenate([[0, 0], h, [0, 0]])
        return padded[1:-1] - 0.5 * (padded[:-2] + padded[2:])

    # -- evaluation -----------------------------------------------------------------
    def _half_angle(self, theta: Array) -> tuple[Array, Array]:
        """``sin`` and ``cos`` of ``omega (theta - theta*) / 2``."""
        half = (0.5 * self.omega) * (theta - self.center)
        return np.sin(half), np.cos(half)

    def mse_derivatives(self, theta: ArrayLike,
                        order: int = 2) -> tuple[Array, Array, Array]:
        """The MSE and its first two derivatives at angles ``theta`` (any shape).

        Parameters
        ----------
        theta : array_like
            Angles in radians.
        order : {0, 1, 2}
            Highest derivative wanted; the others are returned as zeros.

        Returns
        -------
        mse, dmse, d2mse : numpy.ndarray
            Shaped like ``theta``.

        Examples
        --------
        >>> from gabordiag.core.images import make_image
        >>> from gabordiag.config.params import GaborParams
        >>> from gabordiag.core.losses import Loss
        >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
        >>> problem = Problem(make_image("pink", size=32, seed=0), 7, params,
        ...                   ("theta",), Loss("mse"))
        >>> m, dm, d2m = SpectralEngine(problem).mse_derivatives([0.5, 0.5 + np.pi])
        >>> bool(np.all(np.abs(m) < 1e-20)), bool(np.all(d2m > 0))
        (True, True)
        """
        angles = np.asarray(theta, dtype=np.float64)
        sh, ch = self._half_angle(angles.reshape(-1))
        h = self._series.evaluate(sh, ch, order)
        out = product_rule(one_minus_cos(sh, ch, self.omega, order), h)
        out[0] = np.maximum(out[0], 0.0)
        out += [np.zeros_like(out[0])] * (2 - order)
        return tuple(part.reshape(angles.shape) for part in out)  # type: ignore[return-value]

    def _loss_derivatives(self, values: ArrayLike, order: int) -> list[Array]:
        """The loss and its first ``order`` derivatives at values ``(B, 1)``."""
        sh, ch = self._half_angle(self._angles(values))
        h = self._series.evaluate(sh, ch, order)
        if self.problem.loss.name == "rmse":
            # sqrt(m) = sqrt(2) |sin(omega delta / 2)| sqrt(h): no cancellation at the kink.
            return product_rule(root_of_one_minus_cos(sh, ch, self.omega, order),
                                 square_root(h, order))
        m = product_rule(one_minus_cos(sh, ch, self.omega, order), h)
        value, f1, f2 = self.problem.loss.of_mse(np.maximum(m[0], 0.0))
        out = [value]
        if order >= 1:
            out.append(f1 * m[1])
        if order >= 2:
            out.append(f2 * m[1] ** 2 + f1 * m[2])
        return out

    def loss_and_grad(self, values: ArrayLike) -> tuple[Array, Array]:
        """Loss ``(B,)`` and gradient ``(B, 1)`` for values ``(B, 1)``."""
        value, grad = self._loss_derivatives(values, order=1)
        return value, grad[:, None]

    def loss_grad_curv(self, values: ArrayLike) -> tuple[Array, Array, Array]:
        """Loss, gradient and curvature, each batched."""
        value, grad, curv = self._loss_derivatives(values, order=2)
        return value, grad[:, None], curv[:, None]

    def loss(self, values: ArrayLike) -> Array:
        """Loss only, ``(B,)``."""
        return self._loss_derivatives(values, order=0)[0]

    @staticmethod
    def _angles(values: ArrayLike) -> Array:
        batch = np.atleast_2d(np.asarray(values, dtype=np.float64))
        if batch.ndim != 2 or batch.shape[1] != 1:
            raise ValueError(f"`values` must have shape (B, 1) for ('theta',), "
                             f"got {np.shape(values)}")
        return batch[:, 0]

    # -- stationary points ----------------------------------------------------------
    def stationary_angles(self) -> Array:
        """The angles of every stationary point of the MSE over one period, sorted.

        The roots of ``f = m'`` by :func:`~gabordiag.engines.roots.periodic_roots`:
        ``f`` is a trigonometric polynomial, so ``|f'| <= L1 = sum_n (n omega)^2 |c_n|``
        and ``|f''| <= L2 = sum_n (n omega)^3 |c_n|`` everywhere (``c_n`` the MSE's
        coefficients). Every interval of a grid of ``8 N`` points (``N`` modes) is
        settled by a certificate: ``|f(a)| + |f(b)| > L1 (b - a)`` proves it holds no
        root; ``|f'(a)| + |f'(b)| > L2 (b - a)`` proves ``f`` monotone on it, so it
        holds exactly one root when ``f`` changes sign there (bisected to rounding)
        and none otherwise. An interval that neither certificate settles is halved and
        tested again. No root can be missed, however close the roots lie: an interval
        with two or more roots (or a double root) passes neither test and is split
        until each piece holds one; an interval still open at ``1e-13`` of the period
        has ``f`` and ``f'`` at the rounding level there, a double root (a flat
        inflection), reported once. Both tests allow for the rounding of the
        evaluations, bounded at each angle (:meth:`_local_rounding`): ``eps (N + 8)``
        times the largest value each evaluated term of ``h`` can take, times 4, times
        the factors ``1 - cos`` and its derivatives there, which vanish at the target:
        near it ``m'`` is as precise as it is small, and a minimum there flat to fourth
        order (``--gamma 100``: the kernel's derivative vanishes at the target) is
        settled within ``1e-9`` of it. The search runs over ``theta* +- period / 2``,
        so that ``theta - theta*`` is exact around the target. A root is reported once
        (:func:`~gabordiag.engines.roots.periodic_roots` takes one per monotone
        stretch), and roots closer than the first grid's spacing between which ``m'``
        never rises above its rounding are one (:meth:`_merge_unresolved`). The cost
        is one evaluation of ``O(N)`` for each of the ``8 N`` grid points, then a few
        per root; it grows like ``N^2`` flops in ``O(sqrt N)`` vector operations per
        pass. The target is one of the roots (``mse == 0``). A flat landscape (``m``
        constant) has no isolated stationary points: the result is empty; over a
        stretch where ``m'`` stays within its rounding (a plateau of the loss) the
        series resolves no point either.

        Returns
        -------
        numpy.ndarray
            Angles in ``[0, period)``; the MSE's stationary points are those of every
            loss in the MSE family.
        """
        if self._stationary is None:
            self._stationary = self._stationary_angles()
        return self._stationary

    def _stationary_angles(self) -> Array:
        c = self._mse_two_sided()
        w = self.omega * np.abs(np.arange(-self.n_modes, self.n_modes + 1))
        magnitude = np.abs(c)
        if float(np.sum(w * magnitude)) == 0.0:  # |f| <= sum w |c_n| = 0: m is constant
            return np.empty(0)
        lip, lip2 = float(np.sum(w**2 * magnitude)), float(np.sum(w**3 * magnitude))
        local = self._local_rounding(lip, lip2)
        bounds = RootBounds(slope=lip, curvature=lip2, **self._rounding(), local=local)

        def derivatives(theta: Array) -> tuple[Array, Array]:
            _, dm, d2m = self.mse_derivatives(theta, order=2)
            return dm, d2m

        def slope(theta: Array) -> Array:  # in blocks: bounded memory for any count
            if len(theta) <= _SLOPE_BLOCK:
                return self.mse_derivatives(theta, order=1)[1]
            return np.concatenate([self.mse_derivatives(theta[i:i + _SLOPE_BLOCK], order=1)[1]
                                   for i in range(0, len(theta), _SLOPE_BLOCK)])

        # the target in the middle of the search, where theta - theta* is exact
        size = max(64, 8 * self.n_modes)
        roots = periodic_roots(derivatives, slope, self.center - 0.5 * self.period,
                               self.period, size, bounds)
        return self._merge_unresolved(self._unique(roots), slope, local,
                                      self.period / size)

    def _series_rounding(self) -> list[float]:
        """Bounds on the rounding error of one evaluation of ``h``, ``h'``, ``h''``:
        the terms ``(n omega)^r C_n z^n`` each carry a relative error of about ``(n +
        8) eps`` (the powers of ``z`` and the sums); a factor 4 covers the rest."""
        modes = np.arange(self.n_modes)
        weight = 4 * np.finfo(float).eps * (modes + 8) * np.abs(self._coefficients)
        return [float(np.sum(weight * (self.omega * modes) ** r)) for r in range(3)]

    def _rounding(self) -> dict[str, float]:
        """Bounds on the rounding error of one evaluation of ``m'`` and ``m''``.

        They are evaluated as ``(1 - cos)' h + (1 - cos) h'`` (and the next
        derivative) from the series of ``h`` (:meth:`_series_rounding`); ``|1 - cos| <=
        2``, ``|(1 - cos)'| <= omega``, ``|(1 - cos)''| <= omega^2``.
        """
        h = self._series_rounding()
        return {"noise": self.omega * h[0] + 2 * h[1],
                "slope_noise": self.omega**2 * h[0] + 2 * self.omega * h[1] + 2 * h[2]}

    def _local_rounding(self, slope: float, curvature: float
                        ) -> Callable[[Array], tuple[Array, Array]]:
        """The bounds of :meth:`_rounding` at each angle: the factors ``1 - cos``,
        ``(1 - cos)'`` and ``(1 - cos)''`` at the angle instead of their largest values.

        Near the target ``1 - cos`` and its slope vanish, and so does the rounding of
        ``m'``: a minimum there flat to fourth order (a line-thin envelope through pixel
        centres, ``--gamma 100``) is then told apart from the rounding a few
        ``1e-9`` from the target rather than ``1e-5``. The angle ``delta = theta -
        theta*`` itself is rounded (relative ``eps``, times 4 for the half angle and
        its sine): that moves ``m'`` by at most ``slope`` (``|m''|``'s bound) times the
        shift, and ``m''`` by ``curvature`` times it.
        """
        h0, h1, h2 = self._series_rounding()
        omega, eps = self.omega, np.finfo(float).eps

        def local(theta: Array) -> tuple[Array, Array]:
            sh, ch = self._half_angle(theta)
            factor, slope_factor, curvature_factor = one_minus_cos(sh, ch, omega, 2)
            shift = 4 * eps * np.abs(theta - self.center)
            noise = np.abs(slope_factor) * h0 + factor * h1 + slope * shift
            slope_noise = (np.abs(curvature_factor) * h0 + 2 * np.abs(slope_factor) * h1
                           + factor * h2 + curvature * shift)
            return noise, slope_noise

        return local

    def _merge_unresolved(self, angles: Array, slope: Callable[[Array], Array],
                          local: Callable[[Array], tuple[Array, Array]],
                          spacing: float) -> Array:
        """Neighbouring roots that the rounding does not tell apart, as one.

        Two roots closer than the search's first grid ``spacing`` are distinct only if
        ``m'`` rises above its rounding between them; where it stays within it at every
        one of :data:`_PROBES` points between them they are one root to working
        precision (the few points a multiple root, such as a minimum flat to fourth
        order, leaves around itself, within its rounding). The target stands for its
        group, else the root where ``|m'|`` is least.
        """
        count = len(angles)
        if count < 2:
            return angles
        following = np.append(angles[1:], angles[0] + self.period)
        gap = following - angles
        close = np.nonzero(gap < spacing)[0]
        if len(close) == 0:
            return angles
        probes = (angles[close, None] + gap[close, None]
                  * (np.arange(1, _PROBES + 1) / (_PROBES + 1))).ravel()
        values = slope(probes)
        noise = local(probes)[0]
        apart = np.ones(count, dtype=bool)  # root i and root i + 1 (around) are distinct
        apart[close] = np.any((np.abs(values) > noise).reshape(len(close), _PROBES), axis=1)
        if np.all(apart):
            return angles
        # groups of roots not apart from their successor; start after a distinct pair
        first = int(np.nonzero(apart)[0][0]) + 1 if np.any(apart) else 0
        order = np.roll(np.arange(count), -first)
        group = np.cumsum(np.concatenate([[0], apart[order][:-1]]))
        at = np.mod(self.center, self.period)
        values_at = np.abs(slope(angles))
        keep = []
        for g in range(int(group[-1]) + 1):
            members = order[group == g]
            if np.any(angles[members] == at):
                keep.append(int(members[angles[members] == at][0]))
            else:
                keep.append(int(members[np.argmin(values_at[members])]))
        return np.sort(angles[keep])

    def _unique(self, roots: Array) -> Array:
        """Sorted angles in ``[0, period)``, merged when closer than ``1e-9 period``.

        Roots that close to the target snap to it exactly.
        """
        tol = 1e-9 * self.period
        angles = np.mod(roots, self.period)
        target = np.mod(self.center, self.period)
        gap = np.abs(angles - target)
        angles = np.sort(np.where(np.minimum(gap, self.period - gap) < tol, target, angles))
        if len(angles) == 0:
            return angles
        angles = angles[np.concatenate([[True], np.diff(angles) > tol])]
        if len(angles) > 1 and angles[0] + self.period - angles[-1] <= tol:
            angles = angles[:-1] if angles[0] == target else angles[1:]
        return angles
