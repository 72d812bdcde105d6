"""Stability facts: the curvature at the target, the learning rates it allows, the kink
of non-smooth losses, the target's basin and where the start sits.

Computed once here, as dataclasses, and explained once here (the ``explain_*``
methods); recover, landscape, diagnose and the command line render these and never
re-derive them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engines.base import Engine
from .stationary import StationaryPoint
from .study import Study

__all__ = ["Basin", "Stability", "StableLr", "StartPosition", "max_stable_lr", "ratio_text",
           "situate", "stability", "target_basin"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class StableLr:
    """Largest stable learning rates of torch.optim.SGD on a quadratic of curvature c
    (``None`` where no bound exists: at a kink, or for Adam and RMSprop)."""

    sgd: float | None
    sgd_momentum: float | None
    sgd_configured: float | None
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (Adam and RMSprop have no curvature bound)."""
        return {"sgd": self.sgd, "sgd_momentum": self.sgd_momentum,
                "sgd_configured": self.sgd_configured, "momentum": self.momentum,
                "dampening": self.dampening, "nesterov": self.nesterov,
                "rmsprop": None, "adam": None}

    @property
    def formula(self) -> str:
        """The configured bound's formula."""
        if self.nesterov:
            return "2 (1 + mu) / ((1 + 2 mu) c)"
        return "2 (1 + mu) / ((1 - d) c)" if self.momentum else "2 / c"


def max_stable_lr(curvature: float | None, momentum: float = 0.0, dampening: float = 0.0,
                  nesterov: bool = False) -> StableLr:
    """Largest stable learning rates of torch.optim.SGD on a quadratic of curvature c.

    Plain descent: ``lr < 2 / c``. Heavy-ball momentum ``mu`` with dampening ``d``:
    ``lr < 2 (1 + mu) / ((1 - d) c)``; Nesterov (``d = 0``): ``lr < 2 (1 + mu) /
    ((1 + 2 mu) c)`` (from the spectral radius of the two-step recursion). Adam and
    RMSprop normalise the step by the gradient's running magnitude: no curvature bound
    applies to them. ``sgd_configured`` is the bound for the given settings.

    Examples
    --------
    >>> max_stable_lr(4.0).sgd, max_stable_lr(4.0, momentum=0.5).sgd_configured
    (0.5, 0.75)
    """
    if curvature is None or not curvature > 0:
        return StableLr(None, None, None, momentum, dampening, nesterov)
    heavy = (2.0 * (1.0 + momentum) / ((1.0 - dampening) * curvature) if dampening < 1
             else None)
    configured = (2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * curvature)
                  if nesterov else heavy if momentum else 2.0 / curvature)
    return StableLr(2.0 / curvature, heavy, configured, momentum, dampening, nesterov)


@dataclass(frozen=True)
class Stability:
    """The loss at the target along one parameter: its curvature, or its kink.

    Attributes
    ----------
    param : str
        The parameter varied.
    loss : str
        The loss.
    target_value : float
        The target's value of ``param``.
    mse_curvature : float
        d^2 MSE / d param^2 at the target: what every loss's behaviour there derives from.
    loss_curvature : float or None
        The loss's own curvature there (``None`` at a kink).
    kink_slope : float or None
        The one-sided slope at a kink (``rmse``: ``sqrt(mse_curvature / 2)``; ``l1``:
        measured), else ``None``.
    bounds : StableLr
        The stable learning rates (none at a kink).
    flat : bool
        The kernel does not change to first order in ``param`` at the target (see
        :meth:`~gabordiag.core.problem.Problem.flat_at_target`): the minimum is flatter
        than quadratic, its curvature is 0 and a non-smooth loss has no kink there.
    """

    param: str
    loss: str
    target_value: float
    mse_curvature: float
    loss_curvature: float | None
    kink_slope: float | None
    bounds: StableLr
    flat: bool = False

    @property
    def mse_lr_bound(self) -> float | None:
        """``2 / mse_curvature``: plain SGD's bound for the MSE."""
        return 2.0 / self.mse_curvature if self.mse_curvature > 0 else None

    def to_facts(self) -> dict[str, Any]:
        """The JSON facts (``mse_curvature_at_target``, ``max_stable_lr``, ...)."""
        out: dict[str, Any] = {"mse_curvature_at_target": self.mse_curvature,
                               "loss_curvature_at_target": self.loss_curvature,
                               "flat_at_target": self.flat}
        if self.kink_slope is not None or self.loss_curvature is None:
            out["one_sided_slope"] = self.kink_slope
        out["max_stable_lr"] = self.bounds.to_dict()
        return out

    def lr_ratio(self, lr: float) -> float | None:
        """``lr`` over the configured SGD bound (``None`` where there is no bound)."""
        bound = self.bounds.sgd_configured
        return lr / bound if bound else None

    # -- the explanations: the one place they are worded ------------------------------
    def explain_kink(self, lr: float, measured: float | None = None,
                     plain: bool = True) -> str | None:
        """Why fixed steps cannot settle at a kink (``None`` for a smooth loss).

        ``plain``: plain SGD, whose step is ``lr x gradient``; with momentum or another
        optimizer a step is not ``lr x slope``, but the updates still cannot die out
        where the gradient does not."""
        slope = self.kink_slope
        if slope is None:
            return None
        seen = f" (near the end of the run it is {measured:.3g})" if measured else ""
        head = (f"the {self.loss} gradient does not vanish at the minimum: its one-sided "
                f"slope is {slope:.3g}{seen}, so ")
        if not plain:
            return head + "updates at a fixed lr cannot die out near it"
        return head + f"fixed steps of lr x {slope:.3g} = {lr * slope:.3g} rad cannot settle"

    def explain_flat(self) -> str:
        """Why the target has no curvature (see ``flat``)."""
        return (f"0: the kernel does not change to first order in {self.param} there (its "
                "derivative is rounding), so the minimum is flatter than quadratic: the "
                "gradient vanishes faster than the distance to it and descent slows down "
                "near it")

    def explain_bound(self, lr: float) -> str | None:
        """How ``lr`` compares with the configured SGD bound (``None`` without one)."""
        b = self.bounds
        ratio = self.lr_ratio(lr)
        if ratio is None or b.sgd is None or b.sgd_configured is None:
            return None
        curvature = self.loss_curvature if self.loss_curvature is not None else \
            self.mse_curvature
        momentum = ""
        if b.momentum or b.nesterov:
            momentum = (f"; with momentum {b.momentum:g}" + (", Nesterov" if b.nesterov else "")
                        + (f", dampening {b.dampening:g}" if b.dampening else "")
                        + f": {b.formula} = {b.sgd_configured:.3g}")
        return (f"lr = {lr:g} is {ratio_text(ratio)} times the stable bound; the curvature bound "
                f"at the target 2 / {curvature:.4g} = {b.sgd:.3g}{momentum}")


    def explain_momentum(self) -> str | None:
        """What the configured momentum does to the stable lr (``None`` without momentum):
        heavy ball raises plain SGD's bound, Nesterov lowers it, at a kink no lr is
        stable."""
        b = self.bounds
        if not b.momentum:
            return None
        name = (("Nesterov momentum" if b.nesterov else "momentum") + f" {b.momentum:g}"
                + (f" with dampening {b.dampening:g}" if b.dampening else ""))
        if self.kink_slope is not None or b.sgd is None or b.sgd_configured is None:
            return (f"{name} does nothing for a gradient that does not vanish at the "
                    "minimum: no lr is stable there")
        factor = b.sgd_configured / b.sgd
        return (f"{name} {'raises' if factor > 1 else 'lowers'} the stable lr of plain SGD, "
                f"2 / c = {b.sgd:.3g}, by a factor {factor:.3g} to {b.sgd_configured:.3g}")

    def holds(self, lr: float, optimizer: str = "sgd") -> bool | None:
        """Whether fixed SGD steps of ``lr`` are stable at the minimum (``None`` where no
        bound applies: Adam, RMSprop)."""
        if optimizer != "sgd":
            return None
        if self.kink_slope is not None:
            return False
        bound = self.bounds.sgd_configured
        return None if bound is None else lr < bound

    def explain_hold(self, lr: float, optimizer: str = "sgd") -> str | None:
        """Why a cycle around the target's minimum does or does not mean it cannot be held
        (``None`` where no bound applies)."""
        stable = self.holds(lr, optimizer)
        if stable is None:
            return None
        if self.kink_slope is not None:
            return (f"the optimum was found but cannot be held: the {self.loss} gradient "
                    "does not vanish there")
        if not stable:
            return "the optimum was found but cannot be held: lr is above the stable bound there"
        return (f"lr = {lr:g} is below the stable bound {self.bounds.sgd_configured:.3g}, so "
                "the minimum is stable: the run is caught in a cycle around it, not pushed off "
                "it")


def ratio_text(ratio: float) -> str:
    """A ratio to three significant digits, or as many more as it takes not to show a
    ratio that is not 1 as ``1`` (stable or not turns on which side of 1 it is).

    >>> ratio_text(1.0021), ratio_text(0.99962), ratio_text(23.58), ratio_text(1.0)
    ('1.002', '0.9996', '23.6', '1')
    """
    for digits in range(3, 10):
        text = f"{ratio:.{digits}g}"
        if ratio == 1.0 or float(text) != 1.0:
            return text
    return repr(ratio)


def stability(study: Study, param: str = "theta") -> Stability:
    """The stability facts of the study's loss at the target along ``param``."""
    return study.memo(("stability", param), lambda: _compute(study, param))


def _compute(study: Study, param: str) -> Stability:
    config = study.config
    learn = (param,)
    point = study.problem(learn=learn).target_vector()[None, :]
    mse_engine = study.engine(loss="mse", learn=learn)
    mse_curvature = float(mse_engine.loss_grad_curv(point)[2][0, 0])
    engine = study.engine(learn=learn)
    sgd: dict[str, Any] = {"momentum": config.momentum, "dampening": config.dampening,
                           "nesterov": config.nesterov}
    target_value = float(point[0, 0])
    if study.problem(learn=learn).flat_at_target(param):  # the curvature computed is
        # rounding: it is 0
        return Stability(param, config.loss, target_value, 0.0, 0.0, None,
                         max_stable_lr(None, **sgd), flat=True)
    if engine.problem.loss.kinked:
        slope = (math.sqrt(max(mse_curvature, 0.0) / 2.0) if config.loss == "rmse"
                 else _measured_slope(engine, point))
        return Stability(param, config.loss, target_value, mse_curvature, None, slope,
                         max_stable_lr(None, **sgd))
    curvature = float(engine.loss_grad_curv(point)[2][0, 0])
    return Stability(param, config.loss, target_value, mse_curvature, curvature, None,
                     max_stable_lr(curvature, **sgd))


def _measured_slope(engine: Engine, point: Array, h: float = 1e-6) -> float:
    """The mean one-sided slope of the loss at ``point`` (a kink)."""
    probes = np.repeat(point, 2, axis=0)
    probes[:, 0] += [-h, h]
    values = engine.loss(probes)
    return float(np.mean(values) - engine.loss(point)[0]) / h


# -- the target's basin and where the start sits -------------------------------------------

@dataclass(frozen=True)
class Basin:
    """The interval between the maxima that bracket a value (gradient flow goes to the
    minimum inside), and that minimum."""

    lower: float | None
    upper: float | None
    minimum: StationaryPoint | None = None

    @property
    def width(self) -> float | None:
        """``upper - lower`` (``None`` when a side is open)."""
        if self.lower is None or self.upper is None:
            return None
        return self.upper - self.lower

    def to_dict(self) -> dict[str, Any]:
        """``{"from", "to", "width"}``, as the JSON has it."""
        return {"from": self.lower, "to": self.upper, "width": self.width}


def _bracketing_maxima(maxima: list[float], value: float, period: float | None
                       ) -> tuple[float | None, float | None]:
    """The nearest maxima below and above ``value`` (wrapping around a period)."""
    if not maxima:
        return None, None
    if period:
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


def target_basin(maxima: list[float], target_value: float, period: float | None) -> Basin:
    """The basin around the target (``period``: the landscape wraps around)."""
    below, above = _bracketing_maxima(maxima, target_value, period)
    return Basin(below, above)


@dataclass(frozen=True)
class StartPosition:
    """Where a starting value sits on the landscape: loss and gradient relative to
    their range, the nearest target-equivalent value, its basin, whether it is at (or
    next to) a maximum."""

    value: float
    loss: float
    grad: float
    loss_relative: float
    grad_relative: float
    nearest_target_equivalent: float
    distance_to_target_equivalent: float
    nearest_maximum: float | None
    distance_to_maximum: float | None
    at_or_next_to_maximum: bool
    basin: Basin

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        minimum = self.basin.minimum
        return {"value": self.value, "loss": self.loss, "grad": self.grad,
                "loss_relative": self.loss_relative, "grad_relative": self.grad_relative,
                "nearest_target_equivalent": self.nearest_target_equivalent,
                "distance_to_target_equivalent": self.distance_to_target_equivalent,
                "nearest_maximum": self.nearest_maximum,
                "distance_to_maximum": self.distance_to_maximum,
                "at_or_next_to_maximum": self.at_or_next_to_maximum,
                "basin": {"from": self.basin.lower, "to": self.basin.upper,
                          "minimum": None if minimum is None else
                          {"value": minimum.value, "loss": minimum.loss,
                           "target_equivalent": minimum.target_equivalent}}}


def situate(engine: Engine, j: int, start: float, target_value: float,
            points: list[StationaryPoint], loss_range: tuple[float, float],
            max_grad: float, period: float | None) -> StartPosition:
    """Where ``start`` sits along coordinate ``j`` of ``engine``'s problem, given the
    landscape's stationary points, loss range and largest gradient (``period``: the
    landscape wraps around)."""
    point = engine.problem.target_vector()
    point[j] = start
    loss0, grad0 = engine.loss_and_grad(point[None, :])
    loss0_v, grad0_v = float(loss0[0]), float(grad0[0, j])
    lo, hi = loss_range
    nearest = target_value + round((start - target_value) / period) * period if period \
        else target_value
    maxima = [p.value for p in points if p.kind == "maximum"]
    below, above = _bracketing_maxima(maxima, start, period)
    basin_min = None
    if below is not None and above is not None:
        for p in points:
            if p.kind != "minimum":
                continue
            shift = (period * math.floor((p.value - below) / period)) if period else 0.0
            v = p.value - shift
            if below <= v <= above:
                basin_min = StationaryPoint(v, p.kind, p.loss, p.curvature, p.is_global,
                                            p.target_equivalent)
                break
    nearest_max = None
    if below is not None and above is not None:
        nearest_max = below if abs(start - below) <= abs(above - start) else above
    distance_to_max = abs(start - nearest_max) if nearest_max is not None else None
    grad_rel = abs(grad0_v) / max_grad if max_grad else 0.0
    loss_rel = (loss0_v - lo) / (hi - lo) if hi > lo else 0.0
    at_max = bool(distance_to_max is not None and
                  (distance_to_max < 0.05 or (loss_rel > 0.97 and grad_rel < 0.1)))
    return StartPosition(start, loss0_v, grad0_v, loss_rel, grad_rel, nearest,
                         abs(start - nearest), nearest_max, distance_to_max, at_max,
                         Basin(below, above, basin_min))
