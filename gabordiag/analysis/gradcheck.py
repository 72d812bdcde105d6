"""Analytic derivatives against central finite differences, like
``torch.autograd.gradcheck``: the kernel w.r.t. every parameter, and the loss w.r.t.
every learned parameter, at chosen and random points.

A mismatch of a user's derivative is localised: the worst pixels and angles, and a
sign flip, a constant factor, a transposed or rotated kernel, or a shifted centre is
recognised and named.

A central difference is only a reference where it has settled: at lambda = 0.001 a step
of 1e-6 moves the carrier's phase by tens of radians, and the difference says nothing
about the derivative. Where the first step disagrees with the derivative, the step is
halved until the differences at h and h/2 agree (then they are the reference) or the
derivative agrees with one of them; where neither happens down to the smallest step
(rounding dominates there), the derivative is *unresolved* at that point: not checked,
neither passed nor failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..config.choices import LENGTH_PARAMS, MSE_FAMILY, PARAM_NAMES
from ..config.model import Config
from ..core.problem import Problem
from ..engines.direct import DirectEngine
from .cost import gradcheck_cost, refuse
from .mismatch import mismatch_explanations, one_explanation
from .study import Study
from .usercode import KernelComparison, compare_with_builtin

__all__ = ["DEFINITIONS", "SCHEMA", "DerivativeCheck", "GradcheckResult", "run_gradcheck"]

SCHEMA = "gabordiag.gradcheck/1"
# The error figures, in the words the output and the README use.
DEFINITIONS = {
    "max_abs_error": "the largest |analytic - numeric| over every pixel (kernel) and "
                     "every point",
    "max_rel_error (kernel)": "the largest, over the points, of |dK_analytic - dK_numeric| "
                              "/ |dK_numeric| (L2 norms over the kernel's pixels)",
    "max_rel_error (loss)": "the largest |g_analytic - g_numeric| over the points, over "
                            "the largest |g_numeric| (near a minimum the gradient itself "
                            "vanishes, so a ratio point by point says nothing)",
    "pass": "|analytic - numeric| <= atol + rtol |numeric| at every pixel and point, as "
            "torch.autograd.gradcheck",
    "step": "the first central-difference step is eps (times lambda or sigma when that "
            "is below 1); where the derivative disagrees with it, the step is halved: the "
            "derivative passes at the first step it agrees with, fails once three "
            "successive steps h, h/2, h/4 agree with each other but not with it (compared "
            "then with (4 D(h/4) - D(h/2)) / 3), and is unresolved (not checked) where "
            "neither happens down to the first step / 2**20, or before, once the "
            "difference vanishes at a step after it did not",
    "unresolved": "the central differences do not settle at the point: at every step "
                  "tried, those at h and h/2 differ by more than the tolerances",
}
Array = NDArray[np.float64]
NON_SMOOTH = ("rmse", "l1", "huber")


Result = Literal["pass", "fail", "unresolved"]
MAX_HALVINGS = 20  # the smallest step tried is the first / 2**20 (1e-6 -> 9.5e-13)
RELATIVE_STEP = LENGTH_PARAMS  # scales: below 1 the first step is eps times them


@dataclass
class DerivativeCheck:
    """One derivative (of the kernel or of the loss) over all points.

    ``result`` is "fail" when it disagrees with settled central differences at some
    point, else "unresolved" when the differences settle at no step at some point (it
    is not checked there), else "pass". The error figures are over the checked points
    (``None`` when there is none)."""

    what: str                 # "kernel" or "loss"
    param: str
    max_abs_error: float | None
    max_rel_error: float | None
    result: Result
    failing_points: list[dict[str, float]] = field(default_factory=list)
    worst_pixels: list[list[int]] = field(default_factory=list)
    diagnosis: str | None = None
    point_results: list[Result] = field(default_factory=list)  # one per point
    steps: list[float] = field(default_factory=list)  # the step compared, per point
    unresolved_points: list[dict[str, float]] = field(default_factory=list)
    # at the unresolved points: the smallest relative difference (L2) between the
    # central differences at h and h/2 over every step tried
    unsettled: float | None = None

    @property
    def passed(self) -> bool:
        """True when the derivative agrees with central differences at every point."""
        return self.result == "pass"

    def record(self, settled: _Settled, point: dict[str, float]) -> bool:
        """Note what the steps at ``point`` said; whether it was compared there (False:
        unresolved)."""
        self.point_results.append(settled.result)
        self.steps.append(settled.step)
        if settled.result != "unresolved":
            return True
        self.unresolved_points.append({k: float(v) for k, v in point.items()})
        self.unsettled = min(settled.unsettled, self.unsettled or math.inf)
        return False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"what": self.what, "param": self.param,
                "max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error,
                "passed": self.passed, "result": self.result,
                "failing_points": self.failing_points,
                "worst_pixels": self.worst_pixels, "diagnosis": self.diagnosis,
                "point_results": self.point_results, "steps": self.steps,
                "unresolved_points": self.unresolved_points, "unsettled": self.unsettled}


@dataclass
class GradcheckResult:
    """Every check, the tolerances and the points used."""

    config: Config
    checks: list[DerivativeCheck]
    points: list[dict[str, float]]
    eps: float
    atol: float
    rtol: float
    derivative_source: str
    notes: list[str] = field(default_factory=list)
    kernel_comparison: KernelComparison | None = None  # with --kernel: yours vs ours

    @property
    def passed(self) -> bool:
        """True when every derivative is within the tolerances at every point."""
        return all(c.passed for c in self.checks)

    @property
    def result(self) -> Result:
        """"fail" when a derivative fails, else "unresolved" when one could not be
        checked everywhere, else "pass"."""
        results = {c.result for c in self.checks}
        return ("fail" if "fail" in results else
                "unresolved" if "unresolved" in results else "pass")

    def unresolved_text(self) -> str:
        """Which derivatives could not be checked where, in words ("" when none)."""
        unchecked = [c for c in self.checks if c.unresolved_points]
        if not unchecked:
            return ""
        counts = {len(c.unresolved_points) for c in unchecked}
        if len(counts) == 1:  # the usual case: one count for all
            where = (", ".join(f"d {c.what} / d {c.param}" for c in unchecked)
                     + f" at {counts.pop()} of {len(self.points)} points")
        else:
            where = ", ".join(f"d {c.what} / d {c.param} at {len(c.unresolved_points)} of "
                              f"{len(self.points)} points" for c in unchecked)
        return (f"{where} could not be checked: the central differences do not settle "
                "there (at every step tried, those at steps h and h/2 disagree)")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.gradcheck/1)."""
        return {"schema": SCHEMA, "config": self.config.to_dict(), "passed": self.passed,
                "result": self.result,
                "definitions": DEFINITIONS,
                "eps": self.eps, "atol": self.atol, "rtol": self.rtol,
                "derivative_source": self.derivative_source, "points": self.points,
                "notes": self.notes, "checks": [c.to_dict() for c in self.checks],
                "kernel_comparison": (None if self.kernel_comparison is None
                                      else self.kernel_comparison.to_dict())}


def _points(study: Study, n_random: int, seed: int) -> list[dict[str, float]]:
    """The start, the target (moved off it where the loss has a kink) and random points
    (theta over the period, the other parameters within 30% of the target's)."""
    config = study.config
    target = config.target.as_dict()
    start = config.start.as_dict()
    points = [start, target]
    if config.loss in NON_SMOOTH:
        points[1] = {**target, "theta": target["theta"] + 0.05}
    rng = np.random.default_rng(seed)
    period = study.period or 2 * math.pi
    for _ in range(n_random):
        point = {name: float(value * rng.uniform(0.7, 1.3)) if math.isfinite(value)
                 and name in ("lambda", "sigma", "gamma") else value
                 for name, value in target.items()}
        point["theta"] = float(target["theta"] + rng.uniform(-period / 2, period / 2))
        point["psi"] = float(target["psi"] + rng.uniform(-0.5, 0.5))
        points.append(point)
    return points


def _central_kernel(problem: Problem, point: dict[str, float], name: str, eps: float
                    ) -> Array:
    plus, _ = problem.kernels({**point, name: point[name] + eps})
    minus, _ = problem.kernels({**point, name: point[name] - eps})
    return np.asarray((plus - minus) / (2 * eps))


def _first_step(name: str, value: float, eps: float) -> float:
    """``eps``, times lambda or sigma where that is below 1 (a length below a pixel: a
    step of 1e-6 at lambda = 0.001 turns the carrier by tens of radians)."""
    if name in RELATIVE_STEP and math.isfinite(value):
        return eps * min(1.0, abs(value))
    return eps


def _relative(a: Array, b: Array) -> float:
    """|a - b| / |b| (L2 over the pixels), |a - b| where b vanishes."""
    distance, scale = float(np.linalg.norm(a - b)), float(np.linalg.norm(b))
    return distance / scale if scale > 0 else distance


@dataclass
class _Settled:
    """What the steps tried at one point say: the result, the step and difference the
    derivative was compared with (the smallest step tried when unresolved), and the
    smallest relative difference between successive steps."""

    result: Result
    step: float
    numeric: Array
    unsettled: float


def _settle(central: Callable[[float], Array], analytic: Array, first: float,
            atol: float, rtol: float) -> _Settled:
    """Central differences at ``first``, ``first / 2``, ... (at most MAX_HALVINGS
    halvings): pass at the first step whose difference agrees with ``analytic``; fail
    once three successive steps h, h/2, h/4 agree with each other but not with it (the
    reference is then the extrapolation (4 D(h/4) - D(h/2)) / 3, free of the h^2
    term); else unresolved. Three, not two: a scalar difference far from settling can
    match its half-step one by chance, one time in a thousand at rtol 1e-3. The halving
    stops early where the difference vanishes after it did not: the step is then below
    what the kernel's values resolve (a float32 kernel), and smaller ones only repeat
    that."""
    def agree(value: Array, reference: Array) -> bool:
        return bool(np.all(np.abs(value - reference) <= atol + rtol * np.abs(reference)))

    tried: list[tuple[float, Array]] = []
    unsettled = math.inf
    step = first
    for _ in range(MAX_HALVINGS + 1):
        numeric = central(step)
        if agree(analytic, numeric):
            return _Settled("pass", step, numeric, unsettled)
        tried.append((step, numeric))
        if len(tried) >= 2:
            unsettled = min(unsettled, _relative(tried[-2][1], numeric))
        if (len(tried) >= 3 and agree(tried[-3][1], tried[-2][1])
                and agree(tried[-2][1], numeric)):
            return _Settled("fail", step, (4 * numeric - tried[-2][1]) / 3, unsettled)
        if not np.any(numeric) and any(np.any(n) for _, n in tried):
            break
        step /= 2
    return _Settled("unresolved", *tried[-1], unsettled)


def run_gradcheck(study: Study, n_random: int = 5, seed: int = 0, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3) -> GradcheckResult:
    """Check the kernel's and the loss's derivatives against central differences.

    Parameters
    ----------
    study : Study
        The experiment; its ``kernel`` and ``derivative`` select the user's code.
    n_random : int
        Random points besides the start and the target.
    seed : int
        Seed of the random points.
    eps, atol, rtol : float
        Finite-difference step and tolerances: ``|analytic - numeric| <= atol + rtol *
        |numeric|`` elementwise, as ``torch.autograd.gradcheck``.

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> cfg, _ = resolve_config({"size": "32", "ksize": "9", "loss": "mse"})
    >>> run_gradcheck(Study(cfg), n_random=2).passed
    True
    """
    refuse(gradcheck_cost(study, n_random), "--random", "use fewer --random points, a "
           "smaller image or kernel")
    config = study.config
    problem = study.problem()
    source = ("your --derivative" if config.derivative else
              "finite differences of your --kernel" if config.kernel else "analytic")
    notes = []
    if config.kernel and not config.derivative:
        notes.append("your kernel has no --derivative: its derivatives are finite "
                     "differences, so the kernel check compares differences with differences")
    if config.loss in NON_SMOOTH:
        notes.append(f"{config.loss} is not differentiable where the residual vanishes: "
                     "the target point is moved 0.05 rad off it")
    points = _points(study, n_random, seed)
    checks = [_kernel_check(problem, points, name, eps, atol, rtol) for name in PARAM_NAMES]
    loss_problem = replace(problem, learn=tuple(PARAM_NAMES))
    engine = DirectEngine(loss_problem)
    checks += [_loss_check(engine, points, name, eps, atol, rtol) for name in config.learn]
    if config.loss not in MSE_FAMILY and config.loss != "mse":
        notes.append("loss gradients use the direct engine")
    comparison = compare_with_builtin(study, points) if config.kernel else None
    return GradcheckResult(config=config, checks=checks, points=points, eps=eps,
                           atol=atol, rtol=rtol, derivative_source=source, notes=notes,
                           kernel_comparison=comparison)


def _kernel_check(problem: Problem, points: list[dict[str, float]], name: str, eps: float,
                  atol: float, rtol: float) -> DerivativeCheck:
    max_abs, max_rel, failing = 0.0, 0.0, []
    worst: tuple[float, Array, Array] | None = None
    diagnoses: list[list[str]] = []
    check = DerivativeCheck("kernel", name, None, None, "pass")
    for point in points:
        _, derivatives = problem.kernels(point, (name,))
        analytic = np.asarray(derivatives[name])

        def central(step: float, point: dict[str, float] = point) -> Array:
            return _central_kernel(problem, point, name, step)

        settled = _settle(central, analytic, _first_step(name, point[name], eps), atol, rtol)
        if not check.record(settled, point):
            continue
        numeric = settled.numeric
        error = np.abs(analytic - numeric)
        max_abs = max(max_abs, float(error.max()))
        max_rel = max(max_rel, _relative(analytic, numeric))
        if settled.result == "fail":
            failing.append({k: float(v) for k, v in point.items()})
            diagnoses.append(mismatch_explanations(analytic, numeric))
            if worst is None or float(error.max()) > worst[0]:
                worst = (float(error.max()), analytic, numeric)
    _conclude(check, max_abs, max_rel, failing)
    if worst is not None:
        _, analytic, numeric = worst
        error = np.abs(analytic - numeric)
        order = np.argsort(error, axis=None)[::-1][:5]
        check.worst_pixels = [[int(r), int(c)] for r, c in
                              zip(*np.unravel_index(order, error.shape))]
        check.diagnosis = one_explanation(diagnoses)
    return check


def _conclude(check: DerivativeCheck, max_abs: float, max_rel: float,
              failing: list[dict[str, float]]) -> None:
    """The check's result and error figures from its points'."""
    checked = len(check.point_results) - len(check.unresolved_points)
    if checked:
        check.max_abs_error, check.max_rel_error = max_abs, max_rel
    check.failing_points = failing
    check.result = ("fail" if failing else "unresolved" if check.unresolved_points
                    else "pass")


def _loss_check(engine: DirectEngine, points: list[dict[str, float]], name: str, eps: float,
                atol: float, rtol: float) -> DerivativeCheck:
    j = PARAM_NAMES.index(name)
    max_abs, failing, scale = 0.0, [], 0.0
    check = DerivativeCheck("loss", name, None, None, "pass")
    for point in points:
        x = np.array([point[n] for n in PARAM_NAMES])
        _, grad = engine.loss_and_grad(x[None, :])

        def central(step: float, x: Array = x) -> Array:
            plus, minus = x.copy(), x.copy()
            plus[j] += step
            minus[j] -= step
            values = engine.loss(np.stack([plus, minus]))
            return np.asarray((values[0] - values[1]) / (2 * step))

        analytic = float(grad[0, j])
        settled = _settle(central, np.asarray(analytic), _first_step(name, point[name], eps),
                          atol, rtol)
        if not check.record(settled, point):
            continue
        numeric = float(settled.numeric)
        max_abs = max(max_abs, abs(analytic - numeric))
        scale = max(scale, abs(numeric))
        if settled.result == "fail":
            failing.append({k: float(v) for k, v in point.items()})
    # relative to the gradient's largest magnitude over the points: near a minimum the
    # gradient itself vanishes and a pointwise ratio says nothing
    _conclude(check, max_abs, max_abs / scale if scale > 0 else max_abs, failing)
    return check
