"""The theta-recovery experiment: build the problem from a config, run it, judge it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .custom import KernelModel, UserKernel, load_callable
from .errors import ConfigError, GabordiagError, ImageError, LimitError
from .experiment import Config
from .images import make_image
from .kernel import gabor_kernel, theta_period
from .losses import Loss
from .objective import Engine, Problem
from .trajectory import Trajectory, Verdict, classify, run_descent

__all__ = ["SCHEMA", "RecoverResult", "build_problem", "kernel_description", "loss_period",
           "make_engine_for",
           "recover", "theta_curve"]

SCHEMA = "gabordiag.recover/1"
Array = NDArray[np.float64]


def build_problem(config: Config, learn: tuple[str, ...] | None = None) -> Problem:
    """The image, target and loss of an experiment (``learn`` overrides the config's
    learned parameters, e.g. for a landscape over another one)."""
    image = make_image(config.image, size=config.size, seed=config.seed,
                       theta=config.target_theta, wavelength=config.lambd,
                       standardized=config.standardize)
    if config.boundary == "valid" and min(image.shape) < config.ksize:
        raise ConfigError(f"--ksize: {config.ksize} is larger than the image "
                          f"({image.shape[0]}x{image.shape[1]}); use a smaller ksize, a "
                          "larger image or --boundary same")
    if float(np.ptp(image)) == 0.0:
        raise ImageError("--image: the image is constant: it carries no orientation "
                         "information, so no parameter can be recovered from it")
    return Problem(image=image, ksize=config.ksize, target=config.target,
                   learn=learn or config.learn, loss=Loss(config.loss, eps=config.loss_eps),
                   op=config.op, boundary=config.boundary, model=kernel_model(config))


def kernel_model(config: Config) -> KernelModel:
    """The built-in kernel, or the user's (``--kernel``) and/or the user's derivative
    (``--derivative``, used with the built-in kernel when no ``--kernel`` is given)."""
    if config.kernel is None and config.derivative is None:
        return KernelModel()
    kernel_fn = (load_callable(config.kernel, "--kernel") if config.kernel is not None
                 else gabor_kernel)
    derivative_fn = (load_callable(config.derivative, "--derivative")
                     if config.derivative is not None else None)
    return UserKernel(kernel_fn, derivative_fn)


def require_effect(problem: Problem) -> None:
    """Refuse to learn a parameter that does not change the kernel (its verdict would be
    meaningless)."""
    from .landscape import parameter_has_effect

    target = problem.target
    for name in problem.learn:
        if not parameter_has_effect(problem, name):
            isotropic = target.gamma == 1 and math.isinf(target.lambd)
            why = (": the envelope is isotropic (gamma = 1) and there is no carrier "
                   "(lambda = inf)" if name == "theta" and isotropic else "")
            raise GabordiagError(f"--learn: {name} does not change the kernel{why}; there "
                                 "is nothing to learn")


def make_engine_for(problem: Problem, config: Config, evaluations: int = 1) -> Engine:
    """The engine the config asks for (``auto``: the fastest exact one; never the
    spectral engine with a user derivative, which it would not call)."""
    from .engines import MAX_SECONDS, allowed_engines, estimated_seconds, make_engine

    name = config.engine
    # the direct engine is the one whose time grows with the image: estimate it up front
    # (the fast engines' cost is bounded by the step limits)
    slow = name == "direct" or (name == "auto" and "quadratic" not in allowed_engines(problem))
    seconds = estimated_seconds(problem, "direct", evaluations) if slow else 0.0
    if seconds > MAX_SECONDS:
        h, w = problem.image.shape
        raise LimitError(f"this request would take about {seconds / 60:.0f} minutes here "
                         f"({evaluations:,} evaluations of a {problem.ksize}x{problem.ksize} "
                         f"kernel on a {h}x{w} image, limit {MAX_SECONDS / 60:.0f} minutes); "
                         "use a smaller image or kernel, fewer steps or points, or "
                         + ("--engine auto" if name == "direct" else
                            "a loss in mse, rmse, rmse-eps (fast engines)"))
    # an image so large that its products overflow gives a non-finite loss, which the
    # run reports as diverged: no warnings from building the engine's tables
    with np.errstate(over="ignore", invalid="ignore"):
        return make_engine(problem, name, evaluations=evaluations)


def kernel_description(config: Config, engine_name: str) -> str:
    """Whose kernel a run uses and where its derivatives come from, in a few words."""
    if config.kernel is None and config.derivative is None:
        return "the built-in Gabor kernel, analytic derivatives"
    kernel = f"your kernel {config.kernel}" if config.kernel else "the built-in Gabor kernel"
    if config.derivative is not None:
        return f"{kernel}, your derivative {config.derivative}"
    if engine_name == "spectral":
        return (f"{kernel}; no --derivative: the spectral engine differentiates the loss's "
                "exact Fourier series instead (no finite differences needed)")
    return f"{kernel}; no --derivative: derivatives by central finite differences"


def loss_period(config: Config) -> float | None:
    """The loss period in theta (pi or 2 pi), or ``None`` when psi is learned too.

    A user kernel's symmetry is not known: its period is taken as 2 pi."""
    if "psi" in config.learn:
        return None
    if config.kernel is not None:
        return float(2 * np.pi)
    return theta_period(config.psi)


@dataclass
class RecoverResult:
    """A recovery run: config, engine, trajectory and verdict."""

    config: Config
    engine: Engine
    trajectory: Trajectory
    verdict: Verdict
    period: float | None
    gradient: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, JSON-ready (``schema`` gabordiag.recover/1)."""
        t = self.trajectory
        return {
            "schema": SCHEMA,
            "config": self.config.to_dict(),
            "engine": self.engine.name,
            "period": self.period,
            "params": {name: _floats(t.params[:, j]) for j, name in enumerate(t.names)},
            "loss": _floats(t.loss),
            "grads": {name: _floats(t.grads[:, j]) for j, name in enumerate(t.names)},
            "gradient": self.gradient,
            "verdict": self.verdict.to_dict(),
        }


def theta_curve(result: RecoverResult, points: int = 721) -> tuple[Array, Array]:
    """Loss over theta (other parameters at their final values) across the span of
    the run, widened to at least one loss period."""
    t = result.trajectory
    j = t.names.index("theta")
    thetas = t.params[:, j][np.isfinite(t.params[:, j])]
    period = result.period or 2 * np.pi
    low, high = float(thetas.min()), float(thetas.max())
    if high - low < period:
        middle = (low + high) / 2
        low, high = middle - period / 2, middle + period / 2
    grid = np.linspace(low - 0.05 * period, high + 0.05 * period, points)
    final = t.params[-1] if np.all(np.isfinite(t.params[-1])) else t.params[0]
    probes = np.repeat(final[None, :], points, axis=0)
    probes[:, j] = grid
    return grid, result.engine.loss(probes)


def _floats(values: Array) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def gradient_summary(trajectory: Trajectory, config: Config, verdict: Verdict) -> dict[str, Any]:
    """Gradient magnitude at the start, over the run and near the end."""
    norms = trajectory.grad_norms()
    finite = norms[np.isfinite(norms)]
    tail = finite[-max(1, min(len(finite) // 4, 50)):]
    summary: dict[str, Any] = {
        "start": float(finite[0]) if len(finite) else None,
        "min": float(finite.min()) if len(finite) else None,
        "max": float(finite.max()) if len(finite) else None,
        "end_median": float(np.median(tail)) if len(tail) else None,
        "nonvanishing_at_minimum": False,
    }
    cycling_at_min = verdict.kind == "cycling"
    if config.loss in ("rmse", "l1") and cycling_at_min and summary["end_median"]:
        summary["nonvanishing_at_minimum"] = True
        summary["note"] = (f"the {config.loss} gradient does not vanish at the minimum: "
                           f"near the end it is still {summary['end_median']:.3g}, so fixed "
                           f"steps of lr x gradient ~ {config.lr * summary['end_median']:.3g} "
                           "cannot settle")
    return summary


def recover(config: Config, progress: Callable[[int], None] | None = None) -> RecoverResult:
    """Reproduce the recovery experiment for a config.

    Parameters
    ----------
    config : Config
        The resolved experiment (see :func:`gabordiag.experiment.resolve_config`).
    progress : callable, optional
        Called with the step number after each update.

    Returns
    -------
    RecoverResult

    Examples
    --------
    >>> from gabordiag.experiment import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "lr": "3e-4", "steps": "200"})
    >>> recover(cfg).verdict.kind
    'converged-equivalent'
    """
    problem = build_problem(config)
    require_effect(problem)
    engine = make_engine_for(problem, config, evaluations=config.steps)
    start = np.array([config.start.as_dict()[name] for name in config.learn])
    trajectory = run_descent(engine, config.optimizer_settings, start, config.steps, progress)
    verdict = classify(trajectory, engine)
    return RecoverResult(config=config, engine=engine, trajectory=trajectory,
                         verdict=verdict, period=loss_period(config),
                         gradient=gradient_summary(trajectory, config, verdict))
