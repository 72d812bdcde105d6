"""Choosing an engine: the fastest exact one for a problem and a workload.

All engines compute the same loss, gradient and curvature (to rounding):

``direct``
    FFT correlation of the image for every evaluation; every loss and learnable
    subset (:class:`~gabordiag.objective.DirectEngine`).
``quadratic``
    The patch Gram matrix, built once; losses in the MSE family
    (:class:`~gabordiag.quadratic.QuadraticEngine`).
``spectral``
    The exact Fourier series of the MSE in theta; theta-only problems with a loss in
    the MSE family (:class:`~gabordiag.spectral.SpectralEngine`).
"""

from __future__ import annotations

import math

from .errors import ConfigError, LimitError
from .losses import MSE_FAMILY
from .objective import DirectEngine, Engine, Problem

__all__ = ["ENGINES", "GRAM_LIMIT_BYTES", "MAX_SECONDS", "allowed_engines",
           "estimated_seconds", "make_engine", "quadratic_pays"]

ENGINES = ("auto", "direct", "quadratic", "spectral")
GRAM_LIMIT_BYTES = 512 * 2**20  # largest Gram matrix the fast engines may hold
MAX_SECONDS = 1800.0  # a request estimated to take longer is refused up front

_FAMILY = ", ".join(MSE_FAMILY)


def allowed_engines(problem: Problem) -> tuple[str, ...]:
    """The engine names that can evaluate ``problem`` (``auto`` included).

    Examples
    --------
    >>> from gabordiag.images import make_image
    >>> from gabordiag.kernel import GaborParams
    >>> from gabordiag.losses import Loss
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


def make_engine(problem: Problem, name: str = "auto", *, evaluations: int = 1) -> Engine:
    """The engine ``name`` for ``problem``; ``auto`` picks the fastest exact one.

    ``auto`` takes ``spectral`` for theta-only problems with a loss in the MSE
    family, ``quadratic`` for other MSE-family problems when building the Gram
    matrix costs less than the FFTs it saves over ``evaluations`` evaluations, and
    ``direct`` otherwise.

    Parameters
    ----------
    problem : Problem
    name : {"auto", "direct", "quadratic", "spectral"}
    evaluations : int
        How many parameter vectors the caller will evaluate (runs x steps, grid
        points ...), for the cost estimate of ``auto``.

    Returns
    -------
    Engine
        With ``name`` ``"direct"``, ``"quadratic"`` or ``"spectral"``.

    Raises
    ------
    gabordiag.errors.ConfigError
        For an unknown name, or an engine that cannot handle the problem.
    gabordiag.errors.LimitError
        When a forced fast engine would need too much memory, or the spectral series
        does not converge.

    Examples
    --------
    >>> from gabordiag.images import make_image
    >>> from gabordiag.kernel import GaborParams
    >>> from gabordiag.losses import Loss
    >>> params = GaborParams(theta=0.5, lambd=6, sigma=2, gamma=0.5, psi=0)
    >>> problem = Problem(make_image("pink", size=24, seed=0), 7, params,
    ...                   ("theta",), Loss("rmse"))
    >>> make_engine(problem).name
    'spectral'
    >>> make_engine(problem, "direct").name
    'direct'
    """
    if name not in ENGINES:
        raise ConfigError(f"--engine: unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    if evaluations < 1:
        raise ValueError(f"`evaluations` must be >= 1, got {evaluations}")
    if name == "auto":
        return _auto(problem, evaluations)
    _check_forced(problem, name)
    if name == "direct":
        return DirectEngine(problem)
    if name == "quadratic":
        from .quadratic import QuadraticEngine

        return QuadraticEngine(problem)
    from .spectral import SpectralEngine

    return SpectralEngine(problem)


def _check_forced(problem: Problem, name: str) -> None:
    """Raise when the forced engine cannot handle the problem."""
    allowed = ", ".join(allowed_engines(problem))
    if name == "spectral" and (problem.learn != ("theta",) or not problem.loss.mse_family):
        raise ConfigError(f"--engine spectral needs --learn theta and a loss in {_FAMILY} "
                          f"(got --learn {','.join(problem.learn)}, --loss "
                          f"{problem.loss.name}); allowed here: {allowed}")
    if name == "spectral" and getattr(problem.model, "derivative_fn", None) is not None:
        raise ConfigError("--engine spectral cannot use --derivative: it differentiates the "
                          f"loss's Fourier series and would never call yours; allowed here: "
                          f"{allowed}")
    if name == "quadratic" and not problem.loss.mse_family:
        raise ConfigError(f"--engine quadratic needs a loss in {_FAMILY} (got --loss "
                          f"{problem.loss.name}); allowed here: {allowed}")
    if name in ("quadratic", "spectral") and _gram_bytes(problem) > GRAM_LIMIT_BYTES:
        raise LimitError(f"--engine {name}: the Gram matrix for --ksize {problem.ksize} "
                         f"would take {_gram_bytes(problem) / 2**20:.0f} MB (limit "
                         f"{GRAM_LIMIT_BYTES / 2**20:.0f} MB); use --engine direct")


def _auto(problem: Problem, evaluations: int) -> Engine:
    if "quadratic" not in allowed_engines(problem):
        return DirectEngine(problem)
    from .quadratic import QuadraticEngine, gram_matrix

    if "spectral" in allowed_engines(problem):
        from .spectral import SpectralEngine

        gram = gram_matrix(problem.padded, problem.ksize)
        try:
            return SpectralEngine(problem, gram)
        except LimitError:  # the series did not converge: the quadratic form is exact too
            return QuadraticEngine(problem, gram)
    if quadratic_pays(problem, evaluations):
        return QuadraticEngine(problem)
    return DirectEngine(problem)


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
