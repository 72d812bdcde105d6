"""The loss as a function of one parameter: samples, period, stationary points,
curvature, basins and stable step sizes (``gabordiag landscape``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..config.model import Config
from ..core.kernel import aliasing_onset, period_label
from ..engines.base import Engine
from ..engines.spectral import SpectralEngine
from ..errors import ConfigError, LimitError
from .cost import landscape_cost, refuse
from .plain import floats
from .stability import Basin, Stability, StartPosition, situate, stability, target_basin
from .stationary import StationaryPoint, find_stationary_points
from .study import Study

if TYPE_CHECKING:  # imported where they are needed: most landscapes draw no run
    from ..descent.runner import Trajectory
    from .landscape2d import Landscape2D

__all__ = ["MAX_POINTS", "SCHEMA", "Landscape", "LandscapeResult", "aliased_range_warnings",
           "compute_landscape", "run_landscape", "theta_landscape"]

Array = NDArray[np.float64]

SCHEMA = "gabordiag.landscape/1"
MAX_POINTS = 200_000
MAX_PERIODS = 1000  # the widest angle range, in periods of the loss
MAX_STATIONARY = 20_000  # the most stationary points a landscape lists
DEFAULT_POINTS = 720
DEFAULT_POINTS_2D = 121


@dataclass
class Landscape:
    """Loss, gradient and curvature over one parameter, and what they imply.

    ``stability``, ``basin`` and ``start`` are the typed facts (``None`` when the
    parameter has no effect, or there is no start to situate); :attr:`facts` is their
    plain rendering. ``warnings``: what keeps the stationary points from being a
    complete, consistent list (minima and maxima that do not alternate, a grid too
    coarse for the gradient's oscillation), in words, for the run's ``warnings``.
    """

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
    stability: Stability | None = None
    basin: Basin | None = None
    start: StartPosition | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def minima(self) -> list[StationaryPoint]:
        """The minima, in grid order."""
        return [p for p in self.stationary_points if p.kind == "minimum"]

    def maxima(self) -> list[StationaryPoint]:
        """The maxima, in grid order."""
        return [p for p in self.stationary_points if p.kind == "maximum"]

    def spurious_minima(self) -> list[StationaryPoint]:
        """Minima that do not give the target's kernel."""
        return [p for p in self.minima() if not p.target_equivalent]

    @property
    def facts(self) -> dict[str, Any]:
        """The figures behind the landscape's statements, as plain values (empty when
        the parameter has no effect)."""
        if self.stability is None or self.basin is None:
            return {}
        out = {"target_value": self.stability.target_value, **self.summary,
               "n_minima": len(self.minima()), "n_maxima": len(self.maxima()),
               "n_spurious_minima": len(self.spurious_minima()),
               **self.stability.to_facts(), "target_basin": self.basin.to_dict()}
        if self.start is not None:
            out["start"] = self.start.to_dict()
        return out


def _check_period(engine: Engine, grid: Array, loss: Array, base: Array,
                  j: int) -> dict[str, Any]:
    """Compare loss(theta + pi) with loss(theta) on the samples."""
    shifted = np.repeat(base[None, :], len(grid), axis=0)
    shifted[:, j] = grid + math.pi
    half_turn = engine.loss(shifted)
    spread = float(np.ptp(loss)) or 1.0
    deviation = float(np.max(np.abs(half_turn - loss)) / spread)
    return {"half_turn_max_relative_difference": deviation,
            "pi_periodic_on_samples": deviation < 1e-8}


def compute_landscape(study: Study, param: str = "theta",
                      span: tuple[float, float] | None = None,
                      points: int = DEFAULT_POINTS) -> Landscape:
    """Sample the loss over one parameter (the others at the target's values) and find
    what descent will meet.

    Parameters
    ----------
    study : Study
    param : str
        The parameter to vary.
    span : (float, float), optional
        The interval; default one full period for theta (centred on the target),
        otherwise 0.25x to 4x the target's value.
    points : int
        Number of samples (the stationary points do not depend on it).
    """
    if not 8 <= points <= MAX_POINTS:
        raise LimitError(f"--points: {points} is outside 8..{MAX_POINTS}")
    learn = (param,)
    engine = study.engine(learn=learn, evaluations=4 * points)
    problem = engine.problem
    base = problem.target_vector()
    period, reason = problem.period_of(param)
    low, high = span if span is not None else problem.default_span(param)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ConfigError(f"--range: the range must be finite and increasing, got "
                          f"{low:g},{high:g}")
    periodic = period is not None and abs((high - low) - period) < 1e-12
    _check_stationary_count(engine, (low, high))
    grid = (np.linspace(low, high, points, endpoint=False) if periodic
            else np.linspace(low, high, points))
    loss, grad_all, curv_all = engine.loss_grad_curv(grid[:, None])
    grad, curv = grad_all[:, 0], curv_all[:, 0]
    has_effect = study.memo(("has-effect", param), lambda: problem.has_effect(param))
    land = Landscape(param=param, grid=grid, loss=loss, grad=grad, curvature=curv,
                     period=period, period_reason=reason, period_check={},
                     stationary_points=[], has_effect=has_effect)
    if not has_effect:
        return land
    if param == "theta":
        land.period_check = _check_period(engine, grid, loss, base, 0)
    land.stationary_points, land.warnings = find_stationary_points(
        engine, base, 0, grid, grad, curv, loss, (low, high), periodic)
    max_grad = float(np.max(np.abs(grad)))
    land.summary = {"loss_min": float(loss.min()), "loss_max": float(loss.max()),
                    "max_abs_grad": max_grad,
                    "flat_fraction": float(np.mean(np.abs(grad) < 0.01 * max_grad))}
    land.stability = stability(study, param)
    wrap = period if periodic else None
    target_value = float(base[0])
    land.basin = target_basin([p.value for p in land.maxima()], target_value, wrap)
    if param in study.config.learn:
        start = study.config.start.as_dict()[param]
        land.start = situate(engine, 0, start, target_value, land.stationary_points,
                             (land.summary["loss_min"], land.summary["loss_max"]),
                             max_grad, wrap)
    return land


def _check_periods(study: Study, option: str, param: str, span: tuple[float, float]) -> None:
    """An angle's range spans at most :data:`MAX_PERIODS` periods of the loss: it repeats
    every period, and beyond that the stationary points alone would take minutes."""
    period, _ = study.problem(learn=(param,)).period_of(param)
    if period is None:
        return
    periods = (span[1] - span[0]) / period
    if periods > MAX_PERIODS:
        raise LimitError(f"{option}: {span[0]:g},{span[1]:g} spans {periods:,.0f} periods of "
                         f"the loss in {param} (period {period_label(period)}), more than "
                         f"the {MAX_PERIODS:,} a landscape covers; the loss repeats every "
                         "period, so one period shows all of it: narrow the range")


def _check_stationary_count(engine: Engine, span: tuple[float, float]) -> None:
    """The exact number of stationary points a spectral landscape would list, refused
    over :data:`MAX_STATIONARY` before they are enumerated and classified."""
    if not isinstance(engine, SpectralEngine):
        return
    try:
        per_period = len(engine.stationary_angles())
    except LimitError:  # found from a grid instead (analysis.stationary): bounded
        return
    count = per_period * (span[1] - span[0]) / engine.period
    if count > MAX_STATIONARY:
        raise LimitError(f"--range: {span[0]:g},{span[1]:g} holds about {count:,.0f} "
                         f"stationary points ({per_period} per period), more than the "
                         f"{MAX_STATIONARY:,} a landscape lists; narrow the range")


def theta_landscape(study: Study) -> Landscape:
    """The default landscape over theta, computed once per study."""
    return study.memo(("landscape", "theta"), lambda: compute_landscape(study, "theta"))


@dataclass
class LandscapeResult:
    """A landscape run: config, engine, the one- or two-parameter landscape, and the
    descent drawn on it (``--trajectory``)."""

    config: Config
    engine: str
    kernel: str
    landscape: Landscape | None = None
    landscape_2d: Landscape2D | None = None
    trajectory: Trajectory | None = None
    range_warnings: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Where the range samples aliased kernels, and what the landscape doubts of its
        own stationary points, in words."""
        doubts = list(self.landscape.warnings) if self.landscape is not None else []
        return [*self.range_warnings, *doubts]

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, JSON-ready (``schema`` gabordiag.landscape/1)."""
        out: dict[str, Any] = {"schema": SCHEMA, "config": self.config.to_dict(),
                               "engine": self.engine}
        if self.landscape is not None:
            land = self.landscape
            facts = land.facts
            out.update({
                "param": land.param, "grid": floats(land.grid), "loss": floats(land.loss),
                "grad": floats(land.grad), "curvature": floats(land.curvature),
                "period": land.period, "period_reason": land.period_reason,
                "period_check": land.period_check, "has_effect": land.has_effect,
                "stationary_points": [p.to_dict() for p in land.stationary_points],
                "max_stable_lr": facts.get("max_stable_lr"),
                "facts": facts,
            })
        if self.landscape_2d is not None:
            out.update(self.landscape_2d.to_dict())
        return out

    def to_csv(self) -> str:
        """The samples: value, loss, gradient, curvature (or the 2-D grid, long form)."""
        if self.landscape_2d is not None:
            return self.landscape_2d.to_csv()
        land = self.landscape
        assert land is not None
        rows = [f"{land.param},loss,grad,curvature"]
        for values in zip(land.grid, land.loss, land.grad, land.curvature):
            rows.append(",".join(repr(float(v)) for v in values))
        return "\n".join(rows) + "\n"


def run_landscape(study: Study, param: str = "theta", param2: str | None = None,
                  span: tuple[float, float] | None = None,
                  span2: tuple[float, float] | None = None,
                  points: int | None = None, trajectory: bool = False) -> LandscapeResult:
    """The landscape of an experiment over ``param`` (and ``param2``).

    The other parameters stay at the target's values; the loss, image, layer and
    engine are the config's. ``trajectory`` adds the configured descent (when ``param``,
    or ``param2`` of a 2-D landscape, is learned).

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "size": "64", "ksize": "11"})
    >>> result = run_landscape(Study(cfg), points=64)
    >>> result.landscape.period == math.pi
    True
    """
    if param2 is not None and param2 == param:
        raise ConfigError(f"--param2: must differ from --param ({param})")
    n_total = (points or DEFAULT_POINTS) if param2 is None else (points or DEFAULT_POINTS_2D) ** 2
    if n_total > MAX_POINTS:  # refuse before any work
        raise LimitError(f"--points: {n_total:,} samples exceed the limit of {MAX_POINTS:,}; "
                         "the stationary points are exact whatever the density, so fewer "
                         "points lose nothing but resolution of the plot")
    for option, name, interval in (("--range", param, span), ("--range2", param2, span2)):
        if name is not None and interval is not None:
            _check_periods(study, option, name, interval)
    per_axis = points or (DEFAULT_POINTS if param2 is None else DEFAULT_POINTS_2D)
    refuse(landscape_cost(study, param, param2, span, per_axis,
                          trajectory and bool({param, param2} & set(study.config.learn))),
           "--points/--range", "use fewer points, a narrower range, a smaller image or "
           "kernel")
    aliased = aliased_range_warnings(study, (param, param2), (span, span2))
    if param2 is not None:
        from .landscape2d import compute_landscape_2d

        land2 = compute_landscape_2d(study, (param, param2), (span, span2),
                                     points or DEFAULT_POINTS_2D)
        name = study.engine(learn=(param, param2), evaluations=n_total).name
        learned = {param, param2} & set(study.config.learn)
        run = _run_of(study) if trajectory and learned else None
        return LandscapeResult(study.config, name, study.kernel_description(name),
                               landscape_2d=land2, trajectory=run, range_warnings=aliased)
    if span is None and param == "theta":
        land = theta_landscape(study) if points in (None, DEFAULT_POINTS) else \
            compute_landscape(study, param, None, points or DEFAULT_POINTS)
    else:
        land = compute_landscape(study, param, span, points or DEFAULT_POINTS)
    name = study.engine(learn=(param,), evaluations=4 * (points or DEFAULT_POINTS)).name
    run = _run_of(study) if trajectory and param in study.config.learn else None
    return LandscapeResult(study.config, name, study.kernel_description(name),
                           landscape=land, trajectory=run, range_warnings=aliased)


def aliased_range_warnings(study: Study, params: tuple[str, str | None],
                           spans: tuple[tuple[float, float] | None, ...]) -> list[str]:
    """A warning when a landscape over lambda reaches wavelengths whose sampled carrier
    aliases at the orientations it uses (those of its theta range, else the target's;
    :func:`~gabordiag.core.kernel.aliasing_onset`)."""
    names = tuple(name for name in params if name is not None)
    problem = study.problem(learn=names)  # the landscape's own (its theta period)
    ranges = {name: span if span is not None else problem.default_span(name)
              for name, span in zip(params, spans, strict=True) if name is not None}
    if "lambda" not in ranges:
        return []
    low = ranges["lambda"][0]
    if "theta" in ranges:
        onset = _largest_onset(*ranges["theta"])
        where = "at some of the orientations sampled"
    else:
        theta = study.config.target.theta
        onset = aliasing_onset(theta)
        where = f"at the target's orientation (theta = {theta:.4g})"
    if low >= onset:
        return []
    option = "--range" if params[0] == "lambda" else "--range2"
    if spans[params.index("lambda")] is None:
        option += f" (default {low:.4g},{ranges['lambda'][1]:.4g}: 0.25x to 4x the target)"
    return [f"{option}: lambda reaches {low:.4g} pixels; below {onset:.4g} the carrier "
            f"aliases {where}: there the loss is that of kernels whose sampled carrier is a "
            "longer wave (at another orientation, off the axes)"]


def _largest_onset(low: float, high: float) -> float:
    """The largest aliasing onset over ``[low, high]``: 2 when the range holds an axis (a
    multiple of pi/2), else at an end (between two axes it falls, then rises)."""
    quarter = math.pi / 2
    if math.floor(high / quarter) >= math.ceil(low / quarter):
        return 2.0
    return max(aliasing_onset(low), aliasing_onset(high))


def _run_of(study: Study) -> Trajectory:
    """The configured descent, to draw on the landscape."""
    from .recover import recover

    return recover(study).trajectory
