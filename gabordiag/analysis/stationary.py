"""Stationary points of the loss along one parameter, found from the exact derivative.

With the spectral engine they are the roots of the loss's Fourier series, each
confirmed (and, where the loss is flat to the series' own accuracy, placed) by the
exact quadratic form's gradient. With the other engines they are the sign changes of
the analytic gradient on a grid of at least :data:`ROOT_GRID` samples over the span
(whatever the number of points asked for), made fine enough for the gradient's own
oscillation, with every interval whose cubic model (gradient and curvature at its
ends) may hide a pair of roots halved until it shows them; each is refined on its
bracket. Where a loss is not differentiable at its minimum (``rmse``, ``l1``) the
gradient changes sign across the kink and the root finder lands on it.

Minima and maxima of a smooth loss alternate. Between two neighbours of one kind the
exact gradient is sampled again without the grid's rounding floor (a plateau's
maximum, 1e-24 of the largest gradient, is there); what still does not alternate is
said in the warnings (:func:`consistency_warnings`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.scalar import bracketed_root
from ..engines.base import Engine
from ..engines.spectral import SpectralEngine
from ..errors import LimitError
from .gridroots import ROOT_GRID, bracketed_roots, gradient_along, grid_roots

__all__ = ["ROOT_GRID", "StationaryPoint", "consistency_warnings", "find_stationary_points"]

Array = NDArray[np.float64]


@dataclass
class StationaryPoint:
    """A zero of the derivative along one parameter: position, kind, loss and the
    curvature there."""

    value: float
    kind: str            # "minimum", "maximum" or "inflection"
    loss: float
    curvature: float | None  # None at a kink (rmse, l1 at the target)
    is_global: bool = False
    target_equivalent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the JSON names of the schema."""
        return {"value": self.value, "kind": self.kind, "loss": self.loss,
                "curvature": self.curvature, "global": self.is_global,
                "target_equivalent": self.target_equivalent}

    def notes(self, target_value: float | None) -> list[str]:
        """What the point is, in words: ``global minimum``, ``target`` (the target's own
        value) or ``target-equivalent``, ``spurious`` (a minimum that is not the
        target's kernel)."""
        notes = ["global minimum"] if self.is_global else []
        if self.target_equivalent:
            exact = target_value is not None and abs(self.value - target_value) < 1e-9
            notes.append("target" if exact else "target-equivalent")
        elif self.kind == "minimum":
            notes.append("spurious")
        return notes


def find_stationary_points(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                           curvature: Array, loss: Array, span: tuple[float, float],
                           periodic: bool) -> tuple[list[StationaryPoint], list[str]]:
    """Every stationary point over ``span`` along coordinate ``j`` (the other
    coordinates at ``base``), classified, with the global minima marked, and what
    keeps the list from being complete or consistent, in words (empty when nothing
    does: :func:`consistency_warnings`).

    ``grid``, ``grad``, ``curvature`` and ``loss`` are the samples; ``periodic`` says
    the span is one period, sampled without its end point.
    """
    low, high = span
    roots, warnings = _roots(engine, base, j, grid, grad, curvature, periodic, low, high)
    spacing = float(grid[1] - grid[0])
    period = high - low if periodic else None
    # sign changes below the grid's floor, or the series' rounding: from the exact
    # quadratic form where the series is the engine
    exact = engine.quadratic if isinstance(engine, SpectralEngine) else engine
    kinds: dict[float, str] = {}
    if exact is not engine:  # the series' roots, confirmed and told apart by the exact
        confirmed = _confirmed(exact, base, j, roots, period)  # gradient
        roots = sorted(confirmed)
        kinds = {value: kind for value, kind in confirmed.items() if kind}
    points = _classified(engine, base, j, roots, spacing, kinds)
    extra = _between_like_kinds(exact, base, j, points, low, period)
    known = np.sort(np.asarray(roots))
    # a sign change next to a listed point is that point again
    extra = {x: kind for x, kind in extra.items() if len(known) == 0
             or np.min(np.abs(known - x)) > 1e-9 * (high - low)}
    if extra:
        points = _classified(engine, base, j, sorted([*roots, *extra]), spacing,
                             {**kinds, **extra})
    _mark_global(points, loss)
    return points, warnings + consistency_warnings(points, period, engine.name)


def _classified(engine: Engine, base: Array, j: int, roots: list[float], spacing: float,
                kinds: dict[float, str] | None = None) -> list[StationaryPoint]:
    """The points at ``roots``, classified (``kinds``: those known already), all in one
    batch of probes (an aliased carrier has ten thousand of them)."""
    if not roots:
        return []
    problem = engine.problem
    values = np.asarray(roots, dtype=np.float64)
    # probes no further than a quarter of the way to the next root (that would change
    # the loss's side)
    gaps = np.diff(values)
    near = np.minimum(spacing, np.minimum(np.append(np.inf, gaps), np.append(gaps, np.inf)))
    found, losses, curvatures = _classify_points(engine, base, j, values, near)
    points = np.repeat(base[None, :], len(values), axis=0)
    points[:, j] = values
    equivalent = problem.gives_target_kernel(points)
    # a minimum flatter than quadratic: sqrt of it is smooth (rmse ~ delta^2), no kink
    kinked = problem.loss.kinked and bool(equivalent.any())
    flat = kinked and problem.flat_at_target(problem.learn[j])
    out = []
    for i, value in enumerate(roots):
        curvature: float | None = float(curvatures[i])
        if kinked and equivalent[i]:
            curvature = (_second_difference(engine, base, j, value, float(near[i])) if flat
                         else None)
        out.append(StationaryPoint(value=value, kind=(kinds or {}).get(value, found[i]),
                                   loss=float(losses[i]), curvature=curvature,
                                   target_equivalent=bool(equivalent[i])))
    return out


def _confirmed(exact: Engine, base: Array, j: int, roots: list[float], period: float | None
               ) -> dict[float, str]:
    """The roots of the series that the exact gradient confirms, with their kind.

    The exact gradient is taken between each root and halfway to its neighbours (at
    most ``1e-3`` away): a change of sign makes a minimum (from negative to positive)
    or a maximum, moved onto the exact gradient's root where the series' is off; one
    sign on both sides with the gradient at the root at the rounding level of those
    beside it makes an inflection (a double root); one sign with a gradient that is
    not, no root at all. The series is exact to about ``1e-13`` of its largest
    coefficient: where the loss is flat to that over a stretch (a line-thin envelope's
    plateau, ``--gamma 100 --size 32 --ksize 5``) its roots come from the fit's own
    rounding, in pairs, or lie off the exact one (by 1.6e-4 where the gradient is 1e-10
    of its largest), and neither the loss nor the series' curvature tells the kind.
    """
    if not roots:
        return {}
    values = np.asarray(roots)
    if len(values) > 1:
        ahead = np.diff(values, append=values[0] + period if period is not None else np.inf)
        behind = np.diff(values, prepend=values[-1] - period if period is not None else -np.inf)
        reach = 0.5 * np.minimum(ahead, behind)
    else:
        reach = np.full(1, np.inf)
    reach = np.minimum(reach, 1e-3)
    count = len(values)
    g = gradient_along(exact, base, j, np.concatenate([values - reach, values, values + reach]))
    before, at, after = g[:count], g[count:2 * count], g[2 * count:]
    confirmed: dict[float, str] = {}
    for i in range(count):
        value = float(values[i])
        flat = abs(at[i]) <= 1e-6 * max(abs(before[i]), abs(after[i]))
        if np.sign(before[i]) * np.sign(after[i]) > 0:
            if flat:
                confirmed[value] = "inflection"
            continue
        if not flat:  # off the exact root: onto it
            low, high = ((value - reach[i], value) if np.sign(before[i]) * np.sign(at[i]) <= 0
                         else (value, value + reach[i]))
            value = bracketed_root(
                lambda v: float(gradient_along(exact, base, j, np.array([v]))[0]), low, high)
        if before[i] < 0 < after[i]:
            confirmed[value] = "minimum"
        elif before[i] > 0 > after[i]:
            confirmed[value] = "maximum"
        else:  # an exact zero beside it: the loss on either side tells
            confirmed[value] = ""
    return confirmed


BETWEEN_SAMPLES = 64  # gradient samples between two neighbouring points of one kind


def _between_like_kinds(engine: Engine, base: Array, j: int, points: list[StationaryPoint],
                        low: float, period: float | None) -> dict[float, str]:
    """Roots of the gradient between neighbouring minima (or maxima), which must hold
    one of the other kind or a plateau.

    Where the gradient between them stays below the grid's floor
    (:data:`~gabordiag.analysis.gridroots.GRADIENT_NOISE` of its largest value, kept
    there against rounding noise),
    its sign changes were not counted; a loss flat over a stretch can still have its
    maximum there, computed to full relative precision by an exact engine (a gradient
    1e-24 of its largest at a line-thin envelope's plateau, 1e-9 at ``--gamma 300``).
    On :data:`BETWEEN_SAMPLES` samples between the two, a single sign change, whatever
    its size, is that point (refined on its bracket), a minimum where the gradient
    goes from negative to positive, else a maximum (the loss on either side is equal
    to rounding there); none, or several (the rounding of a gradient that small), leave
    the pair as it is.
    """
    extrema = [p for p in points if p.kind in ("minimum", "maximum")]
    pairs = [(a.value, b.value) for a, b in itertools.pairwise(extrema) if a.kind == b.kind]
    if period is not None and len(extrema) > 1 and extrema[-1].kind == extrema[0].kind:
        pairs.append((extrema[-1].value, extrema[0].value + period))
    if not pairs:
        return {}
    fractions = np.arange(1, BETWEEN_SAMPLES + 1) / (BETWEEN_SAMPLES + 1)
    xs = np.concatenate([a + (b - a) * fractions for a, b in pairs])
    gs = gradient_along(engine, base, j, xs).reshape(len(pairs), BETWEEN_SAMPLES)
    xs = xs.reshape(len(pairs), BETWEEN_SAMPLES)
    found: dict[float, str] = {}
    brackets = []
    for x, g in zip(xs, gs, strict=True):
        changes = np.nonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0)[0]
        if len(changes) == 1:
            i = int(changes[0])
            brackets.append((float(x[i]), float(x[i + 1]), float(g[i])))
    if not brackets:
        return found
    lows, highs, before = (np.array(v) for v in zip(*brackets, strict=True))
    for root, g in zip(bracketed_roots(engine, base, j, lows, highs)[0], before,
                       strict=True):
        if not np.isfinite(root):  # does not reproduce: noise
            continue
        if period is not None and root >= low + period:  # around the period: back into
            root -= period                                 # the span
        found[float(root)] = "minimum" if g < 0 else "maximum"
    return found


def _roots(engine: Engine, base: Array, j: int, grid: Array, grad: Array, curvature: Array,
           periodic: bool, low: float, high: float) -> tuple[list[float], list[str]]:
    angles, period = None, 0.0
    if isinstance(engine, SpectralEngine) and len(base) == 1:
        period = float(engine.period)
        try:
            angles = engine.stationary_angles()
        except LimitError:  # too many intervals to separate: sign changes on a grid
            angles = None
    if angles is not None:
        # exact roots of the Fourier series, repeated over the span by the period
        roots: list[float] = []
        for theta in angles:
            first = theta + period * math.ceil((low - theta) / period)
            values = np.arange(first, high + (0 if periodic else 1e-12), period)
            roots.extend(float(v) for v in values if v < high or not periodic)
        return sorted(roots), []
    return grid_roots(engine, base, j, grid, grad, curvature, periodic, low, high)


def consistency_warnings(points: list[StationaryPoint], period: float | None,
                         engine: str) -> list[str]:
    """What the list says against itself: minima and maxima of a smooth function
    alternate (around the period, for a periodic span), inflections aside. Two
    neighbours of one kind mean a plateau between them (a stretch where the gradient
    stays within its rounding: the loss is flat to working precision and has no
    isolated stationary point there), or stationary points the search did not resolve.
    """
    extrema = [p for p in points if p.kind in ("minimum", "maximum")]
    pairs = list(zip(extrema, extrema[1:] + (extrema[:1] if period is not None else []),
                     strict=False))
    same = [(a, b) for a, b in pairs if a.kind == b.kind and a is not b]
    if not same:
        return []
    a, b = same[0]
    where = f"{a.value:.4f} and {b.value:.4f}" if b.value > a.value else \
        f"{a.value:.4f} and {b.value:.4f} (around the period)"
    how = ("its exact Fourier series resolves no stationary point where the gradient "
           "stays within its rounding" if engine == "spectral" else
           "sign changes of the gradient on a grid miss those closer than it resolves")
    return [f"{len(same)} pair(s) of neighbouring stationary points of one kind (the "
            f"first: {a.kind} at {where}): minima and maxima of a smooth loss alternate, "
            "so the loss is flat to rounding between them (a plateau, not listed) or "
            f"points between them are missing ({how})"]


def _second_difference(engine: Engine, base: Array, j: int, value: float,
                       spacing: float) -> float:
    """The loss's curvature at ``value`` from its values (central second difference)."""
    h = min(1e-4, spacing / 4)
    probes = np.repeat(base[None, :], 3, axis=0)
    probes[:, j] = [value - h, value, value + h]
    loss = engine.loss(probes)
    return float((loss[0] + loss[2] - 2 * loss[1]) / (h * h))


def _classify_points(engine: Engine, base: Array, j: int, values: Array, spacing: Array
                     ) -> tuple[list[str], Array, Array]:
    """Kind from the loss on both sides (robust at kinks), loss and curvature at each
    value; ``spacing``: the probes stay within a quarter of it. Where the loss on both
    sides is equal to the centre's to rounding (probes that close to a smooth extremum),
    the sign of the curvature tells."""
    h = np.minimum(1e-4, spacing / 4)
    probes = np.repeat(base[None, :], 3 * len(values), axis=0)
    probes[:, j] = np.stack([values - h, values, values + h], axis=1).ravel()
    loss, _, curv = engine.loss_grad_curv(probes)
    left, centre, right = loss.reshape(-1, 3).T
    curvature = curv[:, j].reshape(-1, 3)[:, 1]
    rounding = 64 * np.finfo(float).eps * np.max(np.abs(loss.reshape(-1, 3)), axis=1)
    level = np.maximum(np.abs(left - centre), np.abs(right - centre)) <= rounding
    kinds = np.where((left > centre) & (right > centre), "minimum",
                     np.where((left < centre) & (right < centre), "maximum",
                              np.where(level & (curvature > 0), "minimum",
                                       np.where(level & (curvature < 0), "maximum",
                                                "inflection"))))
    return [str(k) for k in kinds], centre, curvature


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
