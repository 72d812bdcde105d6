"""What a request will cost, estimated before any work, and the limits it must stay in.

Every analysis entry point (recover, landscape, basins, remedies, gradcheck, diagnose,
check) estimates its time and memory from the engine it will use
(:mod:`gabordiag.engines.choice` holds the per-evaluation model, calibrated on this
project's machine) and refuses up front, with the estimate and the limit, a request that
would take more than :data:`MAX_SECONDS` or need more than :data:`MAX_BYTES`. A user
kernel's own time is measured (a few calls) and counted for every call the run makes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config.choices import PARAM_NAMES
from ..core.user import UserKernel
from ..engines.choice import (
    BASE_BYTES,
    STEP,
    USER_CALL,
    build_seconds,
    call_seconds,
    choose_engine,
    engine_bytes,
)
from ..errors import LimitError

if TYPE_CHECKING:
    from .study import Study

__all__ = ["JUDGE_PIXEL", "JUDGE_RUN", "MAX_BYTES", "MAX_SECONDS", "MORE_SECONDS", "Cost",
           "basins_cost", "check_cost", "diagnose_cost", "gradcheck_cost", "landscape_cost",
           "recover_cost", "refuse", "remedies_cost", "user_call_seconds"]

MAX_SECONDS = 600.0  # a request estimated to take longer is refused up front
MORE_SECONDS = 10.0  # recover continues a run still moving when that takes less than this
MAX_BYTES = 4 * 2**30  # nothing accepted may need more memory than this
JUDGE_RUN = 1.5e-5  # judging one run of a batch ...
JUDGE_PIXEL = 1.5e-7  # ... and per kernel pixel (its kernel error, twice)
STATIONARY = 1e-3  # classifying one exact stationary point (spectral engine)
FIGURES = 3.0  # drawing a command's figures
REFINE_CALLS = 40  # evaluations to refine and classify one root of the gradient
ROOT_GRID = 1024  # gradient samples that bracket the roots (analysis.stationary)


@dataclass(frozen=True)
class Cost:
    """Estimated seconds and bytes of some work; ``held``: bytes kept until the end (the
    runs' trajectories), ``peak``: the largest working set at any one time (an engine,
    a Gram matrix being built). ``parts``: the largest pieces, for the message."""

    seconds: float = 0.0
    held: float = 0.0
    peak: float = 0.0
    parts: tuple[tuple[float, str], ...] = field(default=())

    def __add__(self, other: Cost) -> Cost:
        parts = sorted((*self.parts, *other.parts), reverse=True)[:3]
        return Cost(self.seconds + other.seconds, self.held + other.held,
                    max(self.peak, other.peak), tuple(parts))

    @property
    def bytes(self) -> float:
        """Estimated peak memory of the process."""
        return BASE_BYTES + self.held + self.peak


def _part(seconds: float, what: str, held: float = 0.0, peak: float = 0.0) -> Cost:
    return Cost(seconds, held, peak, ((seconds, what),))


def refuse(cost: Cost, options: str, hint: str) -> None:
    """Raise :class:`LimitError`, naming ``options`` and giving the estimate and the
    limit, when ``cost`` is over the time or memory limit."""
    if cost.seconds > MAX_SECONDS:
        biggest = "; ".join(f"{what} ~{_time(seconds)}" for seconds, what in cost.parts
                            if seconds >= 0.01 * cost.seconds)
        raise LimitError(f"{options}: this request would take about {_time(cost.seconds)} "
                         f"here, more than the limit of {MAX_SECONDS / 60:.0f} minutes "
                         f"({biggest}); {hint}")
    if cost.bytes > MAX_BYTES:
        raise LimitError(f"{options}: this request would need about "
                         f"{cost.bytes / 2**30:.1f} GiB of memory, more than the limit of "
                         f"{MAX_BYTES / 2**30:.0f} GiB; {hint}")


def _time(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} minutes"
    return f"{seconds / 3600:,.1f} hours ({seconds / 60:,.0f} minutes)"


# -- the pieces ---------------------------------------------------------------------------

def user_call_seconds(study: Study) -> float:
    """Seconds of one call of the user's kernel (and derivative), measured once per
    study on the target (the fastest of three calls); 0 for the built-in kernel."""
    model = study.model
    if not isinstance(model, UserKernel):
        return 0.0

    def measure() -> float:
        ksize, point = study.config.ksize, study.config.target.as_dict()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model.kernel(ksize, point)
            if model.derivative_fn is not None:
                model.derivative(ksize, point, study.config.learn[0])
            times.append(time.perf_counter() - start)
        return min(times) / (2 if model.derivative_fn is not None else 1)

    return study.memo("user-call-seconds", measure)


def _engine(study: Study, evaluations: int, loss: str | None = None,
            learn: tuple[str, ...] | None = None, blur: float = 0.0) -> tuple[str, Cost]:
    """The engine a piece of work will use, and the cost of building it."""
    problem = study.problem(loss=loss, learn=learn, blur=blur)
    name = choose_engine(problem, study.config.engine, evaluations=max(evaluations, 1))
    seconds = build_seconds(problem, name, user_call=user_call_seconds(study))
    return name, _part(seconds, f"building the {name} engine",
                       peak=engine_bytes(problem, name))


def _descents(study: Study, runs: int, steps: int, what: str, loss: str | None = None,
              engine: str | None = None, blur: float = 0.0) -> Cost:
    """``runs`` descents of ``steps`` steps, run as one batch, and their verdicts."""
    problem = study.problem(loss=loss, blur=blur)
    name = engine or _engine(study, runs * steps, loss, blur=blur)[0]
    user = user_call_seconds(study)
    step = STEP + call_seconds(problem, name, runs, user_call=user)
    n = len(problem.learn)
    held = 2 * 8 * (steps + 1) * runs * (2 * n + 1)  # params, loss, grads and a copy
    judge = runs * (JUDGE_RUN + JUDGE_PIXEL * problem.ksize**2)
    if isinstance(problem.model, UserKernel):  # the verdicts build each run's kernel twice
        judge += runs * 2 * (user + USER_CALL)
    return _part((steps + 1) * step + judge, what, held=held)


def _landscape_1d(study: Study, param: str, span: tuple[float, float] | None,
                  points: int) -> Cost:
    learn = (param,)
    name, build = _engine(study, 4 * points, learn=learn)
    problem = study.problem(learn=learn)
    user = user_call_seconds(study)
    samples = (call_seconds(problem, name, points, curvature=True, user_call=user)
               + call_seconds(problem, name, points, user_call=user))
    period, _ = problem.period_of(param)
    low, high = span if span is not None else problem.default_span(param)
    periods = (high - low) / period if period else 1.0
    single = call_seconds(problem, name, 1, curvature=True, user_call=user)
    if name == "spectral":
        roots = 4 * max(periods, 1.0)  # a typical count; the engine counts them exactly
        stationary = roots * STATIONARY + call_seconds(problem, name, ROOT_GRID)
    else:
        roots = min(ROOT_GRID, 4 * max(periods, 1.0))
        stationary = (call_seconds(problem, name, ROOT_GRID, user_call=user)
                      + roots * REFINE_CALLS * single)
    return build + _part(samples + stationary + 20 * single,
                         f"{points:,} samples and about {roots:,.0f} stationary points of "
                         f"the {name} engine", peak=64 * points)


# -- per command --------------------------------------------------------------------------

def recover_cost(study: Study) -> Cost:
    """``recover``: the descent (one run), at most :data:`MORE_SECONDS` more steps for a
    run still moving, and the facts at the target."""
    steps = study.config.steps
    name, build = _engine(study, steps)
    run = _descents(study, 1, steps, f"{steps:,} steps on the {name} engine", engine=name)
    return build + run + _part(MORE_SECONDS + 5 * STEP, "the facts at the target")


def landscape_cost(study: Study, param: str = "theta", param2: str | None = None,
                   span: tuple[float, float] | None = None, points: int = 720,
                   trajectory: bool = False) -> Cost:
    """``landscape``: the samples (loss, gradient, curvature), the stationary points, the
    facts; a 2-D grid (``points`` per axis); the run drawn on it."""
    if param2 is None:
        cost = _landscape_1d(study, param, span, points)
    else:
        n = points**2
        learn = (param, param2)
        name, build = _engine(study, n, learn=learn)
        problem = study.problem(learn=learn)
        grid = call_seconds(problem, name, n, user_call=user_call_seconds(study))
        cost = build + _part(grid, f"a grid of {n:,} points on the {name} engine",
                             peak=8 * n * 4)
    if trajectory:
        cost = cost + recover_cost(study)
    return cost


def basins_cost(study: Study, starts: int, cases: list[tuple[str, str, float]],
                plot: bool = False) -> Cost:
    """``basins``: ``starts`` descents per case (loss, optimizer, lr), each case judged;
    one engine per loss."""
    steps = study.config.steps
    cost = Cost()
    for loss in dict.fromkeys(case[0] for case in cases):
        name, build = _engine(study, starts * steps, loss)
        cost = cost + build
        n_cases = sum(case[0] == loss for case in cases)
        for _ in range(n_cases):
            cases_of = f"{n_cases} cases" if n_cases > 1 else "1 case"
            cost = cost + _descents(study, starts, steps, f"{cases_of} of {starts:,} starts x "
                                    f"{steps:,} steps ({loss}, {name} engine)", loss,
                                    engine=name)
        if plot:
            cost = cost + _landscape_1d(study.variant(loss=loss), "theta", None, 720)
    return cost + (_part(FIGURES, "the figure") if plot else Cost())


def remedies_cost(study: Study, starts: int) -> Cost:
    """``remedies``: the baseline and up to eight remedies, each over ``starts`` angles
    (multi-start runs eight times as many unless the grid serves; coarse-to-fine builds an
    engine on the blurred image), and the MSE facts."""
    steps = study.config.steps
    cost = _landscape_1d(study.variant(loss="mse"), "theta", None, 720)
    name, build = _engine(study, starts * steps)
    cost = cost + build
    what = f"9 sweeps of {starts:,} starts x {steps:,} steps ({name} engine)"
    for _ in range(8):  # baseline, mse, safe lr, rmse-eps, decay, adam, unit vector, c2f
        cost = cost + _descents(study, starts, steps, what, engine=name)
    bank = 1 if starts % 8 == 0 else 8  # multi-start: the sweep's own runs, or a bank each
    cost = cost + _descents(study, starts * bank, steps, what if bank == 1 else
                            f"multi-start: {starts * bank:,} runs x {steps:,} steps",
                            engine=name)
    blur = 0.25 * study.config.lambd if math.isfinite(study.config.lambd) else 0.0
    if blur:
        cost = cost + _engine(study, starts * steps, blur=blur)[1]
    return cost


def gradcheck_cost(study: Study, n_random: int) -> Cost:
    """``gradcheck``: each kernel derivative and each loss gradient (the direct engine)
    against central differences at the start, the target and ``n_random`` points."""
    points = n_random + 2
    problem = study.problem()
    user = user_call_seconds(study)
    kernels = points * len(PARAM_NAMES) * (3 * (user + USER_CALL) + 1e-3)
    losses = points * len(problem.learn) * 3 * call_seconds(problem, "direct", 1,
                                                             user_call=user)
    return _part(kernels + losses + build_seconds(problem, "direct"),
                 f"{points} points x {len(problem.learn)} gradient(s) on the direct engine")


def layer_cost(evaluation_seconds: float, steps: int, landscape_points: int) -> Cost:
    """``gabordiag layer``'s recovery through the user's own forward: ``steps`` loss and
    gradient evaluations of the layer, then its landscape (``landscape_points`` of them
    and the refinement of its minima), each costing ``evaluation_seconds`` (measured)."""
    return (_part(steps * evaluation_seconds, f"{steps:,} steps through your layer")
            + _part((landscape_points + REFINE_CALLS) * evaluation_seconds,
                    "the landscape through your layer"))


def diagnose_cost(study: Study, starts: int) -> Cost:
    """``diagnose``: gradcheck, the landscape, the run, a basins sweep and the remedies,
    and the figures."""
    config = study.config
    return (gradcheck_cost(study, 3) + landscape_cost(study) + recover_cost(study)
            + basins_cost(study, starts, [(config.loss, config.optimizer, config.lr)])
            + remedies_cost(study, starts) + _part(2 * FIGURES, "the figures"))


def check_cost(study: Study, needs: set[str], basins_starts: int) -> Cost:
    """``check`` of one file: what its expectations need (recover, landscape, basins)."""
    config = study.config
    cost = Cost()
    if "recover" in needs:
        cost = cost + recover_cost(study)
    if "landscape" in needs:
        cost = cost + landscape_cost(study)
    if "basins" in needs:
        cost = cost + basins_cost(study, basins_starts,
                                  [(config.loss, config.optimizer, config.lr)])
    return cost
