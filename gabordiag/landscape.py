"""The loss as a function of one parameter: samples, period, stationary points,
curvature, basins and stable step sizes.

Stationary points come from the exact derivative: the roots of the Fourier series of
the loss (spectral engine) or, for other engines, every sign change of the analytic
gradient on a grid of at least ``ROOT_GRID`` samples over the span (whatever the
number of points asked for), refined by Brent's method. Where a loss is not differentiable at
its minimum (``rmse``, ``l1``) the gradient changes sign across the kink and the root
finder lands on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import LimitError
from .objective import Engine, Problem
from .scalar import bracketed_root

__all__ = [
    "MAX_POINTS",
    "Landscape",
    "Landscape2D",
    "LandscapeResult",
    "StationaryPoint",
    "compute_landscape",
    "compute_landscape_2d",
    "default_span",
    "max_stable_lr",
    "parameter_has_effect",
    "run_landscape",
]

Array = NDArray[np.float64]

MAX_POINTS = 200_000
ROOT_GRID = 1024  # sign changes of the gradient are looked for on at least this grid
NON_SMOOTH = ("rmse", "l1")
KERNEL_RTOL = 1e-3


@dataclass
class StationaryPoint:
    """A zero of the derivative: position, kind, loss and curvature there."""

    value: float
    kind: str            # "minimum" or "maximum" (or "inflection")
    loss: float
    curvature: float | None  # None at a kink (rmse, l1 at the target)
    is_global: bool = False
    target_equivalent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the JSON names of the schema."""
        return {"value": self.value, "kind": self.kind, "loss": self.loss,
                "curvature": self.curvature, "global": self.is_global,
                "target_equivalent": self.target_equivalent}


@dataclass
class Landscape:
    """Loss, gradient and curvature over one parameter, and what they imply."""

    param: str
    grid: Array
    loss: Array
    grad: Array
    curvature: Array
    period: float | None
    period_reason: str
    period_check: dict[str, Any]
    stationary_points: list[StationaryPoint]
    has_effect: bool = True
    facts: dict[str, Any] = field(default_factory=dict)

    def minima(self) -> list[StationaryPoint]:
        """The minima, in grid order."""
        return [p for p in self.stationary_points if p.kind == "minimum"]

    def maxima(self) -> list[StationaryPoint]:
        """The maxima, in grid order."""
        return [p for p in self.stationary_points if p.kind == "maximum"]

    def spurious_minima(self) -> list[StationaryPoint]:
        """Minima that do not give the target's kernel."""
        return [p for p in self.minima() if not p.target_equivalent]


def parameter_has_effect(problem: Problem, name: str, samples: int = 7) -> bool:
    """Whether changing ``name`` changes the kernel at all (e.g. theta does not when
    the envelope is isotropic and there is no carrier)."""
    base = problem.target.as_dict()
    kernel, derivative = problem.kernels(base, (name,))
    scale = float(np.linalg.norm(kernel))
    tol = 1e-12 if problem.model.analytic else 1e-7  # finite differences are noisier
    if float(np.linalg.norm(derivative[name])) > tol * scale:
        return True
    if name == "theta":  # check more than one orientation, the derivative could vanish
        for theta in np.linspace(0, np.pi, samples, endpoint=False):
            _, d = problem.kernels({**base, "theta": theta}, (name,))
            if float(np.linalg.norm(d[name])) > tol * scale:
                return True
    return False


def _period_reason(problem: Problem, param: str) -> tuple[float | None, str]:
    if param == "psi":
        return 2 * math.pi, "psi is a phase: cos(a + psi) returns after 2pi"
    if param != "theta":
        return None, f"{param} is not an angle: the loss is not periodic in it"
    if "psi" in problem.learn:
        return 2 * math.pi, "psi is learned, so only the 2pi period of the rotation is certain"
    if problem.model.name != "gabor":
        return 2 * math.pi, ("a user kernel's symmetry is not known, so only the 2pi period "
                             "of the rotation is certain")
    psi = problem.target.psi
    if abs(math.sin(psi)) < 1e-12:
        return math.pi, (f"psi = {psi:g} is a multiple of pi, so the kernel is symmetric "
                         "under a half turn: g(theta + pi) = g(theta)")
    return 2 * math.pi, (f"psi = {psi:g} is not a multiple of pi, so a half turn changes "
                         "the kernel (cos(-a + psi) != cos(a + psi)); only 2pi returns it")


def _check_period(engine: Engine, problem: Problem, grid: Array, loss: Array,
                  base: Array, j: int) -> dict[str, Any]:
    """Compare loss(theta + pi) with loss(theta) on the samples."""
    shifted = np.repeat(base[None, :], len(grid), axis=0)
    shifted[:, j] = grid + math.pi
    half_turn = engine.loss(shifted)
    spread = float(np.ptp(loss)) or 1.0
    deviation = float(np.max(np.abs(half_turn - loss)) / spread)
    return {"half_turn_max_relative_difference": deviation,
            "pi_periodic_on_samples": deviation < 1e-8}


def _target_equivalent(problem: Problem, base: Array, j: int, value: float) -> bool:
    point = base.copy()
    point[j] = value
    kernel, _ = problem.effective_kernels(point, derivatives=False)
    target, _ = problem.effective_kernels(problem.target_vector(), derivatives=False)
    return bool(np.linalg.norm(kernel[0] - target[0]) < KERNEL_RTOL * np.linalg.norm(target[0]))


def _roots_on_grid(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                   periodic: bool) -> list[float]:
    """Every sign change of the gradient between grid points, refined on its bracket."""

    def derivative(v: float) -> float:
        point = base.copy()
        point[j] = v
        return float(engine.loss_and_grad(point[None, :])[1][0, j])

    xs, gs = grid, grad
    if periodic:  # close the loop: the last sample's successor is the first + period
        xs = np.append(grid, grid[0] + (grid[-1] - grid[0]) + (grid[1] - grid[0]))
        gs = np.append(grad, grad[0])
    roots = []
    for i in range(len(xs) - 1):
        a, b = gs[i], gs[i + 1]
        if a == 0:
            roots.append(float(xs[i]))
        elif a * b < 0:
            roots.append(bracketed_root(derivative, float(xs[i]), float(xs[i + 1])))
    return roots


def _classify_point(engine: Engine, base: Array, j: int, value: float, spacing: float
                    ) -> tuple[str, float, float]:
    """Kind from the loss on both sides (robust at kinks), loss and curvature there."""
    h = min(1e-4, spacing / 4)
    probes = np.repeat(base[None, :], 3, axis=0)
    probes[:, j] = [value - h, value, value + h]
    loss, _, curv = engine.loss_grad_curv(probes)
    if loss[0] > loss[1] and loss[2] > loss[1]:
        kind = "minimum"
    elif loss[0] < loss[1] and loss[2] < loss[1]:
        kind = "maximum"
    else:
        kind = "inflection"
    return kind, float(loss[1]), float(curv[1, j])


def compute_landscape(engine: Engine, param: str = "theta",
                      span: tuple[float, float] | None = None, points: int = 720,
                      theta0: float | None = None, momentum: float = 0.0,
                      dampening: float = 0.0, nesterov: bool = False) -> Landscape:
    """Sample the loss over one parameter and find what descent will meet.

    Parameters
    ----------
    engine : Engine
        Evaluates the loss; its problem must learn ``param`` (other learned
        parameters stay at the target's values).
    param : str
        The parameter to vary.
    span : (float, float), optional
        The interval; default one full period for theta (centred on the target),
        otherwise 0.25x to 4x the target's value.
    points : int
        Number of samples (the stationary points do not depend on it).
    theta0 : float, optional
        A starting value to situate (its basin, how close it is to a maximum).
    momentum, dampening, nesterov
        SGD settings for the stable learning-rate bound (see :func:`max_stable_lr`).
    """
    problem = engine.problem
    if param not in problem.learn:
        raise ValueError(f"the problem does not learn {param}")
    if not 8 <= points <= MAX_POINTS:
        raise LimitError(f"--points: {points} is outside 8..{MAX_POINTS}")
    j = problem.learn.index(param)
    base = problem.target_vector()
    target_value = float(base[j])
    period, reason = _period_reason(problem, param)
    if span is None:
        span = default_span(problem, param)
    low, high = span
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"the range must be finite and increasing, got {span}")
    periodic = period is not None and abs((high - low) - period) < 1e-12
    grid = (np.linspace(low, high, points, endpoint=False) if periodic
            else np.linspace(low, high, points))
    probes = np.repeat(base[None, :], points, axis=0)
    probes[:, j] = grid
    loss, grad_all, curv_all = engine.loss_grad_curv(probes)
    grad, curv = grad_all[:, j], curv_all[:, j]
    has_effect = parameter_has_effect(problem, param)
    period_check = (_check_period(engine, problem, grid, loss, base, j)
                    if param == "theta" and has_effect else {})
    points_found: list[StationaryPoint] = []
    if has_effect:
        roots = _roots(engine, base, j, grid, grad, periodic, low, high)
        spacing = float(grid[1] - grid[0])
        for value in roots:
            kind, value_loss, value_curv = _classify_point(engine, base, j, value, spacing)
            equivalent = _target_equivalent(problem, base, j, value)
            kink = equivalent and problem.loss.name in NON_SMOOTH
            points_found.append(StationaryPoint(
                value=value, kind=kind, loss=value_loss,
                curvature=None if kink else value_curv, target_equivalent=equivalent))
        _mark_global(points_found, loss)
    landscape = Landscape(param=param, grid=grid, loss=loss, grad=grad, curvature=curv,
                          period=period, period_reason=reason, period_check=period_check,
                          stationary_points=points_found, has_effect=has_effect)
    if has_effect:
        sgd = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
        landscape.facts = _facts(engine, landscape, target_value, theta0, periodic, sgd)
    return landscape


def _roots(engine: Engine, base: Array, j: int, grid: Array, grad: Array, periodic: bool,
           low: float, high: float) -> list[float]:
    spectral_roots = getattr(engine, "stationary_points", None)
    if callable(spectral_roots) and len(base) == 1:
        # exact roots of the Fourier series, repeated over the span by the period
        period = float(engine.period)  # type: ignore[attr-defined]
        roots: list[float] = []
        for p in spectral_roots():
            first = p.theta + period * math.ceil((low - p.theta) / period)
            values = np.arange(first, high + (0 if periodic else 1e-12), period)
            roots.extend(float(v) for v in values if v < high or not periodic)
        return sorted(roots)
    if len(grid) < ROOT_GRID:  # the roots must not depend on how densely the user samples
        grid = (np.linspace(low, high, ROOT_GRID, endpoint=False) if periodic
                else np.linspace(low, high, ROOT_GRID))
        probes = np.repeat(base[None, :], ROOT_GRID, axis=0)
        probes[:, j] = grid
        grad = engine.loss_and_grad(probes)[1][:, j]
    return _roots_on_grid(engine, base, j, grid, grad, periodic)


def _mark_global(points: list[StationaryPoint], loss: Array) -> None:
    minima = [p for p in points if p.kind == "minimum"]
    if not minima:
        return
    best = min(p.loss for p in minima)
    scale = max(float(np.ptp(loss)), abs(best), 1e-300)
    for p in minima:  # equal to rounding only: a spurious minimum may lie very close;
        # the target's kernel gives the least loss there is, whatever the rounding
        p.is_global = p.target_equivalent or bool(
            p.loss <= best + 64 * np.finfo(float).eps * scale)


def _facts(engine: Engine, land: Landscape, target_value: float, theta0: float | None,
           periodic: bool, sgd: dict[str, Any]) -> dict[str, Any]:
    """Figures behind the landscape's statements."""
    problem = engine.problem
    j = problem.learn.index(land.param)
    max_grad = float(np.max(np.abs(land.grad)))
    facts: dict[str, Any] = {
        "target_value": target_value,
        "loss_min": float(land.loss.min()), "loss_max": float(land.loss.max()),
        "max_abs_grad": max_grad,
        "flat_fraction": float(np.mean(np.abs(land.grad) < 0.01 * max_grad)),
        "n_minima": len(land.minima()), "n_maxima": len(land.maxima()),
        "n_spurious_minima": len(land.spurious_minima()),
    }
    facts.update(_curvature_at_target(engine, j, target_value, sgd))
    basin = _basin(land, target_value, periodic)
    facts["target_basin"] = basin
    if theta0 is not None:
        facts["start"] = _situate(engine, land, j, theta0, target_value, max_grad, periodic)
    return facts


def max_stable_lr(curvature: float | None, momentum: float = 0.0, dampening: float = 0.0,
                  nesterov: bool = False) -> dict[str, Any]:
    """Largest stable learning rates of torch.optim.SGD on a quadratic of curvature c.

    Plain descent: ``lr < 2 / c``. Heavy-ball momentum ``mu`` with dampening ``d``:
    ``lr < 2 (1 + mu) / ((1 - d) c)``; Nesterov (``d = 0``): ``lr < 2 (1 + mu) /
    ((1 + 2 mu) c)`` (from the spectral radius of the two-step recursion). Adam and
    RMSprop normalise the step by the gradient's running magnitude: no curvature bound
    applies to them (``None``). ``sgd_configured`` is the bound for the given settings.
    """
    out: dict[str, Any] = {"sgd": None, "sgd_momentum": None, "sgd_configured": None,
                           "momentum": momentum, "dampening": dampening,
                           "nesterov": nesterov, "rmsprop": None, "adam": None}
    if curvature is None or not curvature > 0:
        return out
    heavy = 2.0 * (1.0 + momentum) / ((1.0 - dampening) * curvature) if dampening < 1 \
        else None
    configured = (2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * curvature)
                  if nesterov else heavy if momentum else 2.0 / curvature)
    out.update({"sgd": 2.0 / curvature, "sgd_momentum": heavy,
                "sgd_configured": configured})
    return out


def _curvature_at_target(engine: Engine, j: int, target_value: float,
                         sgd: dict[str, Any]) -> dict[str, Any]:
    """The loss's curvature at the target and the step sizes it allows."""
    problem = engine.problem
    base = problem.target_vector()
    point = base.copy()
    point[j] = target_value
    loss_name = problem.loss.name
    from .losses import Loss

    # The MSE curvature is what every other loss's behaviour at the minimum derives from.
    mse_engine = _same_problem_engine(engine, Loss("mse"))
    mse_curv = float(mse_engine.loss_grad_curv(point[None, :])[2][0, j])
    out: dict[str, Any] = {"mse_curvature_at_target": mse_curv}
    if loss_name in NON_SMOOTH:
        slope = math.sqrt(max(mse_curv, 0.0) / 2.0) if loss_name == "rmse" else None
        if loss_name == "l1":
            h = 1e-6
            probes = np.repeat(point[None, :], 2, axis=0)
            probes[:, j] += [-h, h]
            values = engine.loss(probes)
            slope = float(np.mean(values) - engine.loss(point[None, :])[0]) / h
        out.update({"loss_curvature_at_target": None, "one_sided_slope": slope,
                    "max_stable_lr": max_stable_lr(None, **sgd)})
        return out
    curv = float(engine.loss_grad_curv(point[None, :])[2][0, j])
    out["loss_curvature_at_target"] = curv
    out["max_stable_lr"] = max_stable_lr(curv, **sgd)
    return out


def _same_problem_engine(engine: Engine, loss: Any) -> Engine:
    """An engine of the same kind for the same problem with another loss."""
    from dataclasses import replace as dc_replace

    if engine.problem.loss == loss:
        return engine
    problem = dc_replace(engine.problem, loss=loss)
    quadratic = getattr(engine, "quadratic", engine)
    gram = getattr(quadratic, "gram", None)  # the patch Gram does not depend on the loss
    try:
        if gram is not None:
            return type(engine)(problem, gram)  # type: ignore[call-arg]
        return type(engine)(problem)  # type: ignore[call-arg]
    except (TypeError, ValueError):
        from .objective import DirectEngine

        return DirectEngine(problem)


def _bracketing_maxima(land: Landscape, value: float, periodic: bool
                       ) -> tuple[float | None, float | None]:
    """The nearest maxima below and above ``value`` (wrapping around a period)."""
    maxima = [p.value for p in land.maxima()]
    if not maxima:
        return None, None
    if periodic and land.period:
        period = land.period
        below = max((m - period * math.ceil((m - value) / period) for m in maxima),
                    default=None)
        above = min((m + period * math.ceil((value - m) / period) for m in maxima),
                    default=None)
        if below is not None and above is not None and above - below > period + 1e-12:
            above = below + period
        return below, above
    lower = [m for m in maxima if m < value]
    upper = [m for m in maxima if m > value]
    return (max(lower) if lower else None), (min(upper) if upper else None)


def _basin(land: Landscape, target_value: float, periodic: bool) -> dict[str, Any]:
    below, above = _bracketing_maxima(land, target_value, periodic)
    width = (above - below) if below is not None and above is not None else None
    return {"from": below, "to": above, "width": width}


def _situate(engine: Engine, land: Landscape, j: int, theta0: float, target_value: float,
             max_grad: float, periodic: bool) -> dict[str, Any]:
    """Where a starting value sits: loss and gradient relative to the range, distance
    to the nearest target-equivalent value, its basin, whether it is at a maximum."""
    problem = engine.problem
    point = problem.target_vector()
    point[j] = theta0
    loss0, grad0 = engine.loss_and_grad(point[None, :])
    loss0_v, grad0_v = float(loss0[0]), float(grad0[0, j])
    lo, hi = float(land.loss.min()), float(land.loss.max())
    period = land.period if periodic else None
    if period:
        k = round((theta0 - target_value) / period)
        nearest = target_value + k * period
    else:
        nearest = target_value
    below, above = _bracketing_maxima(land, theta0, periodic)
    minima = [p for p in land.minima()]
    basin_min = None
    if below is not None and above is not None and minima:
        for p in minima:
            shift = (period * math.floor((p.value - below) / period)) if period else 0.0
            v = p.value - shift
            if below <= v <= above:
                basin_min = {"value": v, "loss": p.loss,
                             "target_equivalent": p.target_equivalent}
                break
    nearest_max = None
    if below is not None and above is not None:
        nearest_max = below if abs(theta0 - below) <= abs(above - theta0) else above
    distance_to_max = abs(theta0 - nearest_max) if nearest_max is not None else None
    grad_rel = abs(grad0_v) / max_grad if max_grad else 0.0
    loss_rel = (loss0_v - lo) / (hi - lo) if hi > lo else 0.0
    at_max = bool(distance_to_max is not None and
                  (distance_to_max < 0.05 or (loss_rel > 0.97 and grad_rel < 0.1)))
    return {"value": theta0, "loss": loss0_v, "grad": grad0_v, "loss_relative": loss_rel,
            "grad_relative": grad_rel, "nearest_target_equivalent": nearest,
            "distance_to_target_equivalent": abs(theta0 - nearest),
            "nearest_maximum": nearest_max, "distance_to_maximum": distance_to_max,
            "at_or_next_to_maximum": at_max, "basin": {"from": below, "to": above,
                                                       "minimum": basin_min}}


def default_span(problem: Problem, param: str) -> tuple[float, float]:
    """One period centred on the target for angles; 0.25x to 4x the target otherwise."""
    value = problem.target.as_dict()[param]
    period, _ = _period_reason(problem, param)
    if period is not None:
        return value - period / 2, value + period / 2
    if not math.isfinite(value):
        raise ValueError(f"{param} = {value} has no finite default range; give --range")
    return 0.25 * value, 4.0 * value


@dataclass
class Landscape2D:
    """The loss over two parameters on a grid, with the grid's local extrema."""

    params: tuple[str, str]
    grid: Array
    grid2: Array
    loss: Array               # (len(grid), len(grid2))
    minima: list[tuple[float, float, float]]
    maxima: list[tuple[float, float, float]]


def compute_landscape_2d(engine: Engine, params: tuple[str, str],
                         spans: tuple[tuple[float, float] | None, tuple[float, float] | None]
                         = (None, None), points: tuple[int, int] = (121, 121)) -> Landscape2D:
    """The loss over a grid of two parameters (others at the target's values).

    Local minima and maxima are the grid points lower (higher) than their eight
    neighbours; the grid wraps around where a span is one full period.
    """
    problem = engine.problem
    n1, n2 = points
    if n1 * n2 > MAX_POINTS or min(n1, n2) < 8:
        raise LimitError(f"--points: a {n1}x{n2} grid is outside 8..{MAX_POINTS} points in "
                         "all; use fewer points")
    axes = []
    wraps = []
    for name, span, n in zip(params, spans, points):
        low, high = span if span is not None else default_span(problem, name)
        period, _ = _period_reason(problem, name)
        periodic = period is not None and abs((high - low) - period) < 1e-12
        axes.append(np.linspace(low, high, n, endpoint=not periodic))
        wraps.append(periodic)
    j1, j2 = problem.learn.index(params[0]), problem.learn.index(params[1])
    probes = np.repeat(problem.target_vector()[None, :], n1 * n2, axis=0)
    g1, g2 = np.meshgrid(axes[0], axes[1], indexing="ij")
    probes[:, j1], probes[:, j2] = g1.ravel(), g2.ravel()
    loss = engine.loss(probes).reshape(n1, n2)
    minima, maxima = _grid_extrema(loss, axes[0], axes[1], wraps)
    return Landscape2D(params=params, grid=axes[0], grid2=axes[1], loss=loss,
                       minima=minima, maxima=maxima)


def _grid_extrema(loss: Array, a: Array, b: Array, wraps: list[bool]
                  ) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    rows = np.pad(loss, ((1, 1), (0, 0)), mode="wrap" if wraps[0] else "edge")
    padded = np.pad(rows, ((0, 0), (1, 1)), mode="wrap" if wraps[1] else "edge")
    neighbours = [padded[1 + di:1 + di + loss.shape[0], 1 + dj:1 + dj + loss.shape[1]]
                  for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
    lower = np.all([loss < n for n in neighbours], axis=0)
    higher = np.all([loss > n for n in neighbours], axis=0)
    minima = [(float(a[i]), float(b[k]), float(loss[i, k])) for i, k in zip(*np.nonzero(lower))]
    maxima = [(float(a[i]), float(b[k]), float(loss[i, k])) for i, k in zip(*np.nonzero(higher))]
    return minima, maxima


SCHEMA = "gabordiag.landscape/1"


@dataclass
class LandscapeResult:
    """A landscape run: config, engine, and the one- or two-parameter landscape."""

    config: Any
    engine: Engine
    landscape: Landscape | None = None
    landscape_2d: Landscape2D | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, JSON-ready (``schema`` gabordiag.landscape/1)."""
        out: dict[str, Any] = {"schema": SCHEMA, "config": self.config.to_dict(),
                               "engine": self.engine.name}
        if self.landscape is not None:
            land = self.landscape
            facts = land.facts
            out.update({
                "param": land.param, "grid": _floats(land.grid), "loss": _floats(land.loss),
                "grad": _floats(land.grad), "curvature": _floats(land.curvature),
                "period": land.period, "period_reason": land.period_reason,
                "period_check": land.period_check, "has_effect": land.has_effect,
                "stationary_points": [p.to_dict() for p in land.stationary_points],
                "max_stable_lr": facts.get("max_stable_lr"),
                "facts": facts,
            })
        if self.landscape_2d is not None:
            land2 = self.landscape_2d
            out.update({
                "params": list(land2.params), "grid": _floats(land2.grid),
                "grid2": _floats(land2.grid2),
                "loss": [_floats(row) for row in land2.loss],
                "grid_minima": [list(m) for m in land2.minima],
                "grid_maxima": [list(m) for m in land2.maxima],
            })
        return out


def _floats(values: Array) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values)]


def run_landscape(config: Any, param: str = "theta", param2: str | None = None,
                  span: tuple[float, float] | None = None,
                  span2: tuple[float, float] | None = None,
                  points: int | None = None) -> LandscapeResult:
    """The landscape of an experiment over ``param`` (and ``param2``).

    The other parameters stay at the target's values; the loss, image, layer and
    engine are the config's.

    Examples
    --------
    >>> from gabordiag.experiment import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "size": "64", "ksize": "11"})
    >>> result = run_landscape(cfg, points=64)
    >>> result.landscape.period == math.pi
    True
    """
    from .recover import build_problem, make_engine_for

    if param2 is not None and param2 == param:
        raise ValueError(f"--param2 must differ from --param ({param})")
    learn = (param,) if param2 is None else (param, param2)
    n_total = (points or 720) if param2 is None else (points or 121) ** 2
    if n_total > MAX_POINTS:  # refuse before any work
        raise LimitError(f"--points: {n_total:,} samples exceed the limit of {MAX_POINTS:,}; "
                         "the stationary points are exact whatever the density, so fewer "
                         "points lose nothing but resolution of the plot")
    problem = build_problem(config, learn=learn)
    if param2 is None:
        n = points or 720
        engine = make_engine_for(problem, config, evaluations=4 * n)
        start = config.start.as_dict()[param] if param in config.learn else None
        land = compute_landscape(engine, param, span, n, theta0=start,
                                 momentum=config.momentum, dampening=config.dampening,
                                 nesterov=config.nesterov)
        return LandscapeResult(config=config, engine=engine, landscape=land)
    n = points or 121
    engine = make_engine_for(problem, config, evaluations=n * n)
    land2 = compute_landscape_2d(engine, (param, param2), (span, span2), (n, n))
    return LandscapeResult(config=config, engine=engine, landscape_2d=land2)
