"""Choosing an engine: the fastest exact one for a problem and a workload.

All engines compute the same loss, gradient and curvature (to rounding):

``direct``
    FFT correlation of the image for every evaluation; every loss and learnable
    subset (:class:`~gabordiag.engines.direct.DirectEngine`).
``quadratic``
    The patch Gram matrix, built once; losses in the MSE family
    (:class:`~gabordiag.engines.quadratic.QuadraticEngine`).
``spectral``
    The exact Fourier series of the MSE in theta; theta-only problems with a loss in
    the MSE family (:class:`~gabordiag.engines.spectral.SpectralEngine`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..config.choices import ENGINES, MSE_FAMILY
from ..core.problem import Problem
from ..errors import ConfigError, LimitError
from . import gram as gram_module
from .base import Engine
from .direct import DirectEngine
from .quadratic import QuadraticEngine
from .spectral import SpectralEngine

__all__ = ["GRAM_LIMIT_BYTES", "MAX_SECONDS", "allowed_engines", "build_engine", "choose_engine",
           "estimated_seconds", "make_engine", "quadratic_pays", "refuse_slow_requests"]

Array = NDArray[np.float64]
GRAM_LIMIT_BYTES = 512 * 2**20  # largest Gram matrix the fast engines may hold
MAX_SECONDS = 1800.0  # a request estimated to take longer is refused up front

_FAMILY = ", ".join(MSE_FAMILY)


def allowed_engines(problem: Problem) -> tuple[str, ...]:
    """The engine names that can evaluate ``problem`` (``auto`` included).

    Examples
    --------
    >>> from gabordiag.config.params import GaborParams
    >>> from gabordiag.core.images import make_image
    >>> from gabordiag.core.losses import Loss
    >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
    >>> problem = Problem(make_image("pink", size=24, seed=0), 7, params,
    ...                   ("theta", "sigma"), Loss("huber"))
    >>> allowed_engines(problem)
    ('auto', 'direct')
    """
    names = ["auto", "direct"]
    if problem.loss.mse_family and _gram_bytes(problem) <= GRAM_LIMIT_BYTES:
        names.append("quadratic")
        # the spectral engine differentiates its Fourier series of the loss: it would
        # never call a user's derivative, which is what such a run is there to examine
        user_derivative = getattr(problem.model, "derivative_fn", None) is not None
        if problem.learn == ("theta",) and not user_derivative:
            names.append("spectral")
    return tuple(names)


def choose_engine(problem: Problem, name: str = "auto", *, evaluations: int = 1,
                  gram_ready: bool = False) -> str:
    """The engine ``name`` resolves to for ``problem``: ``direct``, ``quadratic`` or
    ``spectral``.

    ``auto`` takes ``spectral`` for theta-only problems with a loss in the MSE family,
    ``quadratic`` for other MSE-family problems when the Gram matrix is already built
    or building it costs less than the FFTs it saves over ``evaluations``
    evaluations, and ``direct`` otherwise. A forced name is checked against the
    problem.

    Raises
    ------
    gabordiag.errors.ConfigError
        For an unknown name, or an engine that cannot handle the problem.
    gabordiag.errors.LimitError
        When a forced fast engine would need too much memory.
    """
    if name not in ENGINES:
        raise ConfigError(f"--engine: unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    if evaluations < 1:
        raise ValueError(f"`evaluations` must be >= 1, got {evaluations}")
    allowed = allowed_engines(problem)
    if name != "auto":
        _check_forced(problem, name, allowed)
        return name
    if "spectral" in allowed:
        return "spectral"
    if "quadratic" in allowed and (gram_ready or quadratic_pays(problem, evaluations)):
        return "quadratic"
    return "direct"


def make_engine(problem: Problem, name: str = "auto", *, evaluations: int = 1,
                gram: Callable[[], Array] | None = None) -> Engine:
    """The engine ``name`` for ``problem``; ``auto`` picks the fastest exact one.

    Parameters
    ----------
    problem : Problem
    name : {"auto", "direct", "quadratic", "spectral"}
    evaluations : int
        How many parameter vectors the caller will evaluate (runs x steps, grid
        points ...), for the cost estimate of ``auto``.
    gram : callable, optional
        Returns the Gram matrix of ``problem.padded`` (e.g. from a cache); by default
        it is built here when needed.

    Returns
    -------
    Engine
        With ``name`` ``"direct"``, ``"quadratic"`` or ``"spectral"``. Under ``auto`` a
        spectral series that does not converge falls back to the quadratic form (also
        exact).

    Examples
    --------
    >>> from gabordiag.config.params import GaborParams
    >>> from gabordiag.core.images import make_image
    >>> from gabordiag.core.losses import Loss
    >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
    >>> problem = Problem(make_image("pink", size=24, seed=0), 7, params,
    ...                   ("theta",), Loss("rmse"))
    >>> make_engine(problem).name
    'spectral'
    >>> make_engine(problem, "direct").name
    'direct'
    """
    chosen = choose_engine(problem, name, evaluations=evaluations, gram_ready=gram is not None)
    return build_engine(problem, chosen, gram=gram, strict=name == "spectral")


def build_engine(problem: Problem, chosen: str, *, gram: Callable[[], Array] | None = None,
                 strict: bool = False) -> Engine:
    """The engine ``chosen`` (from :func:`choose_engine`) for ``problem``.

    A spectral series that does not converge falls back to the quadratic form (also
    exact) unless ``strict``.
    """
    if chosen == "direct":
        return DirectEngine(problem)
    matrix = gram() if gram is not None else gram_module.gram_matrix(problem.padded,
                                                                     problem.ksize)
    if chosen == "quadratic":
        return QuadraticEngine(problem, matrix)
    try:
        return SpectralEngine(problem, matrix)
    except LimitError:
        if strict:
            raise
        return QuadraticEngine(problem, matrix)


def _check_forced(problem: Problem, name: str, allowed: tuple[str, ...]) -> None:
    """Raise when the forced engine cannot handle the problem."""
    listed = ", ".join(allowed)
    if name == "spectral" and (problem.learn != ("theta",) or not problem.loss.mse_family):
        raise ConfigError(f"--engine spectral needs --learn theta and a loss in {_FAMILY} "
                          f"(got --learn {','.join(problem.learn)}, --loss "
                          f"{problem.loss.name}); allowed here: {listed}")
    if name == "spectral" and getattr(problem.model, "derivative_fn", None) is not None:
        raise ConfigError("--engine spectral cannot use --derivative: it differentiates the "
                          f"loss's Fourier series and would never call yours; allowed here: "
                          f"{listed}")
    if name == "quadratic" and not problem.loss.mse_family:
        raise ConfigError(f"--engine quadratic needs a loss in {_FAMILY} (got --loss "
                          f"{problem.loss.name}); allowed here: {listed}")
    if name in ("quadratic", "spectral") and _gram_bytes(problem) > GRAM_LIMIT_BYTES:
        raise LimitError(f"--engine {name}: the Gram matrix for --ksize {problem.ksize} "
                         f"would take {_gram_bytes(problem) / 2**20:.0f} MB (limit "
                         f"{GRAM_LIMIT_BYTES / 2**20:.0f} MB); use --engine direct")


def _gram_bytes(problem: Problem) -> int:
    return 8 * problem.ksize**4


# Seconds per unit of work, measured on a 2-core machine; only their ratios matter.
_CALL = 1e-4  # fixed cost of one evaluation call (Python, small arrays)
_LOOP = 3e-5  # one pass of the Gram build's per-lag loops
_FFT = 8.4e-10  # per pixel x log2(pixels), the FFTs of one direct evaluation
_GATHER = 8e-9  # per element of the Gram build's corner tables and assembly
_MATVEC = 3.3e-10  # per Gram entry read by one quadratic evaluation


def estimated_seconds(problem: Problem, engine: str, evaluations: int) -> float:
    """A rough time estimate (this machine's constants) for ``evaluations`` one-by-one
    evaluations with an engine; the fast engines' one-off build is included. Batched
    evaluations of the fast engines cost far less than this per item."""
    height, width = problem.padded.shape
    k = problem.ksize
    pixels = height * width
    direct = _CALL + _FFT * pixels * math.log2(max(pixels, 2)) * (1 + len(problem.learn))
    if engine == "direct":
        return evaluations * direct
    build = 25 * _GATHER * k**4 + 24 * k * _LOOP + direct
    return build + evaluations * (0.5 * _CALL + _MATVEC * k**4)


def quadratic_pays(problem: Problem, evaluations: int) -> bool:
    """Whether the Gram build plus ``evaluations`` quadratic evaluations beat direct.

    A time estimate: a direct evaluation is a few FFTs of the padded image; the
    Gram build is ``O(ksize^4)`` table work plus ``O(ksize)`` FFT loops; a quadratic
    evaluation reads the ``ksize^2 x ksize^2`` Gram matrix once.
    """
    height, width = problem.padded.shape
    k = problem.ksize
    pixels = height * width
    direct = _CALL + _FFT * pixels * math.log2(max(pixels, 2))
    quadratic = 0.5 * _CALL + _MATVEC * k**4
    build = 25 * _GATHER * k**4 + 24 * k * _LOOP + direct
    return build + evaluations * quadratic < evaluations * direct


def refuse_slow_requests(problem: Problem, name: str, evaluations: int) -> None:
    """Raise :class:`LimitError`, with the estimate, for direct-engine work over
    :data:`MAX_SECONDS` (the fast engines' cost is bounded by the step limits)."""
    slow = name == "direct" or (name == "auto" and "quadratic" not in allowed_engines(problem))
    seconds = estimated_seconds(problem, "direct", evaluations) if slow else 0.0
    if seconds <= MAX_SECONDS:
        return
    h, w = problem.image.shape
    raise LimitError(f"this request would take about {seconds / 60:.0f} minutes here "
                     f"({evaluations:,} evaluations of a {problem.ksize}x{problem.ksize} "
                     f"kernel on a {h}x{w} image, limit {MAX_SECONDS / 60:.0f} minutes); "
                     "use a smaller image or kernel, fewer steps or points, or "
                     + ("--engine auto" if name == "direct" else
                        "a loss in mse, rmse, rmse-eps (fast engines)"))
