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
from ..core.user import UserKernel
from ..errors import ConfigError, LimitError
from . import gram as gram_module
from .base import Engine
from .direct import DirectEngine
from .quadratic import QuadraticEngine
from .spectral import SpectralEngine

__all__ = ["BASE_BYTES", "GRAM_LIMIT_BYTES", "allowed_engines", "build_engine", "build_seconds",
           "call_seconds", "choose_engine", "engine_bytes", "estimated_seconds", "make_engine",
           "quadratic_pays", "user_calls"]

Array = NDArray[np.float64]
GRAM_LIMIT_BYTES = 512 * 2**20  # largest Gram matrix the fast engines may hold

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


# -- the cost model ----------------------------------------------------------------------
# Seconds per unit of work, measured on this project's 2-core machine while it was shared
# (benchmarks/calibrate_cost.py measures them again and prints measured / estimated).
# Each is taken at the slow end of what was measured, so that an estimate is seldom low.
CALL = 8e-5  # fixed cost of one engine call (Python, small arrays)
STEP = 4e-5  # the descent runner's own work per step (optimizer, bookkeeping)
SPECTRAL_ITEM = 3e-7  # per point of a spectral evaluation (a few hundred modes)
KERNEL_PIXEL = 1.5e-7  # per kernel pixel of one point: the kernel and its derivatives
QUADRATIC_ENTRY = 1.2e-10  # per Gram entry per point of a batch (a matrix product)
QUADRATIC_SINGLE = 8e-10  # per Gram entry for a single point (memory-bound)
FFT_MSE = 4e-9  # per pixel x log2(pixels) of one direct evaluation, mse family
FFT_ELEMENTWISE = 6e-9  # the same for l1 and huber (the residual's loss per pixel)
GRAM_ENTRY = 3e-7  # building the Gram matrix, per entry (ksize^4)
SPECTRAL_SAMPLES = 1024  # exact samples of a typical series fit
USER_CALL = 3e-5  # our side of one call of the user's kernel (isolation, checks)
# Bytes: what the interpreter holds with numpy, scipy and matplotlib loaded.
BASE_BYTES = 300 * 2**20


def _pixels(problem: Problem) -> tuple[int, float]:
    height, width = problem.padded.shape
    pixels = height * width
    return pixels, pixels * math.log2(max(pixels, 2))


def user_calls(problem: Problem, curvature: bool = False) -> int:
    """Calls of the user's code per point of an evaluation: the kernel, and each learned
    parameter's derivative (two kernel calls each by central differences, one with a
    ``--derivative``); a curvature adds second differences of the derivative."""
    if not isinstance(problem.model, UserKernel):
        return 0
    n = len(problem.learn)
    per_derivative = 1 if problem.model.derivative_fn is not None else 2
    return 1 + n * per_derivative + (2 * n * per_derivative if curvature else 0)


def call_seconds(problem: Problem, engine: str, batch: int = 1, *, curvature: bool = False,
                 user_call: float = 0.0) -> float:
    """Estimated seconds of one evaluation (loss and gradient; ``curvature``: the
    Hessian's diagonal too) of ``batch`` points with ``engine`` (its build excluded).
    ``user_call``: seconds of one call of the user's kernel, when there is one."""
    k = problem.ksize
    n = len(problem.learn)
    kernels = batch * k * k * KERNEL_PIXEL * (1 + n) * (2 if curvature else 1)
    user = batch * user_calls(problem, curvature) * (user_call + USER_CALL)
    if engine == "spectral":
        return CALL + batch * SPECTRAL_ITEM
    if engine == "quadratic":
        entries = k**4 * (1 + (n if curvature else 0))
        products = (QUADRATIC_SINGLE * entries if batch == 1 else
                    batch * QUADRATIC_ENTRY * entries)
        return CALL + products + kernels + user
    _, fft = _pixels(problem)
    per_fft = FFT_MSE if problem.loss.mse_family else FFT_ELEMENTWISE
    ffts = batch * per_fft * fft * (1 + (n if curvature else 0))
    return CALL + ffts + kernels + user


def build_seconds(problem: Problem, engine: str, *, gram_ready: bool = False,
                  user_call: float = 0.0) -> float:
    """Estimated seconds to build ``engine`` for ``problem``: the Gram matrix (unless
    ``gram_ready``) and, for the spectral engine, its series fit."""
    if engine == "direct":
        return CALL + FFT_MSE * _pixels(problem)[1]
    k = problem.ksize
    gram = 0.0 if gram_ready else GRAM_ENTRY * k**4 + 30 * FFT_MSE * _pixels(problem)[1]
    if engine == "quadratic":
        return gram
    fit = SPECTRAL_SAMPLES * (QUADRATIC_ENTRY * k**4 + k * k * KERNEL_PIXEL
                              + (user_call + USER_CALL if user_calls(problem) else 0.0))
    return gram + fit


def engine_bytes(problem: Problem, engine: str) -> float:
    """Estimated bytes an engine holds at its peak: the image and its transform, the
    Gram matrix while it is built (about 2.5 times its size), one block of work."""
    pixels, _ = _pixels(problem)
    image = 6 * 8 * pixels
    if engine == "direct":
        per_item = 8 * pixels * 2 * (2 + len(problem.learn))
        return image + 4 * max(64 * 2**20, per_item)
    return image + 2.5 * _gram_bytes(problem) + 4 * 64 * 2**20


def estimated_seconds(problem: Problem, engine: str, evaluations: int) -> float:
    """A time estimate for ``evaluations`` one-by-one evaluations with an engine, its
    build included (batched evaluations of the fast engines cost far less per item:
    :func:`call_seconds`)."""
    return build_seconds(problem, engine) + evaluations * call_seconds(problem, engine)


def quadratic_pays(problem: Problem, evaluations: int) -> bool:
    """Whether the Gram build plus ``evaluations`` quadratic evaluations beat direct ones
    (one point at a time, the worst case for the quadratic form's batches)."""
    return (estimated_seconds(problem, "quadratic", evaluations)
            < estimated_seconds(problem, "direct", evaluations))
