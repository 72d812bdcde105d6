"""Stationary points of the loss along one parameter, found from the exact derivative.

With the spectral engine they are the roots of the loss's Fourier series; with the
other engines every sign change of the analytic gradient on a grid of at least
:data:`ROOT_GRID` samples over the span (whatever the number of points asked for),
refined on its bracket. Where a loss is not differentiable at its minimum (``rmse``,
``l1``) the gradient changes sign across the kink and the root finder lands on it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.scalar import bracketed_root
from ..engines.base import Engine
from ..engines.spectral import SpectralEngine
from ..errors import LimitError

__all__ = ["ROOT_GRID", "StationaryPoint", "consistency_warnings", "find_stationary_points"]

Array = NDArray[np.float64]
ROOT_GRID = 1024  # sign changes of the gradient are looked for on at least this grid


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
                           loss: Array, span: tuple[float, float], periodic: bool
                           ) -> tuple[list[StationaryPoint], list[str]]:
    """Every stationary point over ``span`` along coordinate ``j`` (the other
    coordinates at ``base``), classified, with the global minima marked, and what
    keeps the list from being complete or consistent, in words (empty when nothing
    does: :func:`consistency_warnings`).

    ``grid``, ``grad`` and ``loss`` are the samples; ``periodic`` says the span is one
    period, sampled without its end point.
    """
    low, high = span
    roots, warnings = _roots(engine, base, j, grid, grad, periodic, low, high)
    spacing = float(grid[1] - grid[0])
    points = _classified(engine, base, j, roots, spacing)
    period = high - low if periodic else None
    # sign changes below the grid's floor, or the series' rounding: from the exact
    # quadratic form where the series is the engine
    exact = engine.quadratic if isinstance(engine, SpectralEngine) else engine
    extra = _between_like_kinds(exact, base, j, points, low, period,
                                float(np.max(np.abs(grad))))
    if extra:
        points = _classified(engine, base, j, sorted([*roots, *extra]), spacing)
    _mark_global(points, loss)
    return points, warnings + consistency_warnings(points, period, engine.name)


def _classified(engine: Engine, base: Array, j: int, roots: list[float], spacing: float
                ) -> list[StationaryPoint]:
    problem = engine.problem
    points = []
    for i, value in enumerate(roots):  # probes no further than a quarter of the way to
        gaps = [abs(value - roots[k]) for k in (i - 1, i + 1) if 0 <= k < len(roots)]
        near = min([spacing, *gaps])  # the next root (that would change the loss's side)
        kind, value_loss, value_curv = _classify_point(engine, base, j, value, near)
        point = base.copy()
        point[j] = value
        equivalent = bool(problem.gives_target_kernel(point[None, :])[0])
        kink = equivalent and problem.loss.kinked
        points.append(StationaryPoint(value=value, kind=kind, loss=value_loss,
                                      curvature=None if kink else value_curv,
                                      target_equivalent=equivalent))
    return points


FAINT_GRADIENT = 1e-13  # of the largest |gradient|: the floor between like kinds
BETWEEN_SAMPLES = 64  # gradient samples between two neighbouring points of one kind


def _between_like_kinds(engine: Engine, base: Array, j: int, points: list[StationaryPoint],
                        low: float, period: float | None, largest: float) -> list[float]:
    """Roots of the gradient between neighbouring minima (or maxima), which must hold
    one of the other kind or a plateau: sign changes on :data:`BETWEEN_SAMPLES` samples
    between them that rise above :data:`FAINT_GRADIENT` of the largest gradient, far
    below the grid's floor (:data:`GRADIENT_NOISE`, kept there against the noise of a
    loss flat to rounding). A minimum in a plateau where the gradient is 1e-9 of its
    largest (``--gamma 300``) is found here, a stretch flat to rounding stays empty."""
    extrema = [p for p in points if p.kind in ("minimum", "maximum")]
    pairs = [(a.value, b.value) for a, b in itertools.pairwise(extrema) if a.kind == b.kind]
    if period is not None and len(extrema) > 1 and extrema[-1].kind == extrema[0].kind:
        pairs.append((extrema[-1].value, extrema[0].value + period))
    if not pairs:
        return []
    fractions = np.arange(1, BETWEEN_SAMPLES + 1) / (BETWEEN_SAMPLES + 1)
    xs = np.concatenate([a + (b - a) * fractions for a, b in pairs])
    gs = _gradient(engine, base, j, xs)
    floor = FAINT_GRADIENT * largest
    found = []
    for row in range(len(pairs)):
        x = xs[row * BETWEEN_SAMPLES:(row + 1) * BETWEEN_SAMPLES]
        g = gs[row * BETWEEN_SAMPLES:(row + 1) * BETWEEN_SAMPLES]
        for i in np.nonzero((np.sign(g[:-1]) * np.sign(g[1:]) < 0)
                            & (np.maximum(np.abs(g[:-1]), np.abs(g[1:])) > floor))[0]:
            try:
                root = bracketed_root(lambda v: float(_gradient(engine, base, j,
                                                                np.array([v]))[0]),
                                      float(x[i]), float(x[i + 1]))
            except ValueError:  # does not reproduce: noise
                continue
            found.append(root - period if period is not None and root >= low + period
                         else root)  # around the period: back into the span
    return found


def _roots(engine: Engine, base: Array, j: int, grid: Array, grad: Array, periodic: bool,
           low: float, high: float) -> tuple[list[float], list[str]]:
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
    if len(grid) < ROOT_GRID:  # the roots must not depend on how densely the user samples
        grid = (np.linspace(low, high, ROOT_GRID, endpoint=False) if periodic
                else np.linspace(low, high, ROOT_GRID))
        grad = _gradient(engine, base, j, grid)
    grid, grad, resolved = _resolving_grid(engine, base, j, grid, grad, periodic)
    warnings = [] if resolved else [
        f"the gradient changes sign or dips toward zero more than once per "
        f"{SAMPLES_PER_FEATURE} samples even on {len(grid):,} of them: stationary points "
        f"closer together than about {float(grid[1] - grid[0]):.1e} may be missing from "
        "the list"]
    return _sign_changes(engine, base, j, grid, grad, periodic), warnings


def _gradient(engine: Engine, base: Array, j: int, values: Array) -> Array:
    points = np.repeat(base[None, :], len(values), axis=0)
    points[:, j] = values
    return engine.loss_and_grad(points)[1][:, j]


SAMPLES_PER_FEATURE = 16  # grid samples per sign change or dip of the gradient, at least
MAX_ROOT_GRID = 16 * 1024  # the densest grid the gradient's sign changes are looked for on


def _resolving_grid(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                    periodic: bool) -> tuple[Array, Array, bool]:
    """The grid, doubled until it holds :data:`SAMPLES_PER_FEATURE` samples per sign
    change or dip of ``|gradient|`` (at most :data:`MAX_ROOT_GRID` samples), its
    gradient, and whether it got there. A grid coarser than the gradient's own
    oscillation shows neither the sign changes nor the dips between its samples (a
    line-thin envelope, ``--gamma 300``, makes hundreds of them per period)."""
    while True:
        g = np.append(grad, grad[0]) if periodic else grad
        floor = GRADIENT_NOISE * float(np.max(np.abs(g))) if len(g) else 0.0
        loud = np.abs(g) > floor
        changes = np.count_nonzero((np.sign(g[:-1]) * np.sign(g[1:]) < 0)
                                   & (loud[:-1] | loud[1:]))
        dips = np.count_nonzero((np.abs(g[1:-1]) < np.abs(g[:-2]))
                                & (np.abs(g[1:-1]) < np.abs(g[2:])) & loud[1:-1])
        if (changes + dips) * SAMPLES_PER_FEATURE <= len(grid):
            return grid, grad, True
        if 2 * len(grid) > MAX_ROOT_GRID:
            return grid, grad, False
        step = float(grid[1] - grid[0])
        middle = grid + 0.5 * step if periodic else 0.5 * (grid[:-1] + grid[1:])
        finer, finer_grad = np.empty(len(grid) + len(middle)), np.empty(len(grid) + len(middle))
        finer[0::2], finer[1::2] = grid, middle
        finer_grad[0::2], finer_grad[1::2] = grad, _gradient(engine, base, j, middle)
        grid, grad = finer, finer_grad


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


GRADIENT_NOISE = 1e-10  # of the largest |gradient| on the grid: below it, rounding
VALLEY_LEVELS = 40  # halvings of a dip of |gradient| looked into for a hidden pair


def _sign_changes(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                  periodic: bool) -> list[float]:
    """Every sign change of the gradient between grid points, refined on its bracket,
    and those of the pairs of roots a grid interval hides (:func:`_hidden_pairs`)."""

    def derivative(v: float) -> float:
        return float(gradient(np.array([v]))[0])

    def gradient(values: Array) -> Array:
        return _gradient(engine, base, j, values)

    xs, gs = grid, grad
    if periodic:  # close the loop: the last sample's successor is the first + period
        xs = np.append(grid, grid[0] + (grid[-1] - grid[0]) + (grid[1] - grid[0]))
        gs = np.append(grad, grad[0])
    # a change of sign between two gradients at the rounding floor is noise, not a point
    floor = GRADIENT_NOISE * float(np.max(np.abs(gs))) if len(gs) else 0.0
    brackets = [(float(xs[i]), float(xs[i + 1]), float(gs[i]), float(gs[i + 1]))
                for i in range(len(xs) - 1)]
    brackets += _hidden_pairs(gradient, xs, gs, floor, periodic)
    roots = []
    for low, high, a, b in sorted(brackets):
        if max(abs(a), abs(b)) <= floor:
            continue
        if a == 0:
            roots.append(low)
        elif a * b < 0:
            try:
                roots.append(bracketed_root(derivative, low, high))
            except ValueError:  # the change of sign does not reproduce: rounding noise of a
                continue        # gradient at its floor (and the period's wrap-around)
    return roots


def _hidden_pairs(gradient: Callable[[Array], Array], xs: Array, gs: Array, floor: float,
                  periodic: bool) -> list[tuple[float, float, float, float]]:
    """Brackets of the roots that come in pairs between two grid points.

    Two roots of the gradient between neighbouring samples leave no sign change there,
    only a dip of ``|g|``: a sample whose ``|g|`` is below both neighbours' (same sign,
    above the rounding). Each dip is narrowed around its lowest sample, two new samples
    a level, until a sample crosses zero (both roots then have brackets), the parabola
    through the three lowest samples bottoms out at more than half the lowest ``|g|``
    on the same side of zero (no roots there), or :data:`VALLEY_LEVELS` halvings.
    Returns ``(low, high, g(low), g(high))`` per bracket.
    """
    if periodic and len(gs) > 2:  # the samples around the loop: gs[-1] is gs[0] again
        g_prev, g_next = np.roll(gs[:-1], 1), np.roll(gs[:-1], -1)
        x_prev = np.append(xs[-2] - (xs[-1] - xs[0]), xs[:-2])
        x_next, g_mid, x_mid = xs[1:], gs[:-1], xs[:-1]
    else:
        g_prev, g_next, x_prev, x_next = gs[:-2], gs[2:], xs[:-2], xs[2:]
        g_mid, x_mid = gs[1:-1], xs[1:-1]
    dip = ((np.abs(g_mid) < np.abs(g_prev)) & (np.abs(g_mid) < np.abs(g_next))
           & (np.sign(g_prev) == np.sign(g_mid)) & (np.sign(g_next) == np.sign(g_mid))
           & (np.abs(g_mid) > floor))
    x0, x1, x2 = x_prev[dip], x_mid[dip], x_next[dip]
    g0, g1, g2 = g_prev[dip], g_mid[dip], g_next[dip]
    found: list[tuple[float, float, float, float]] = []
    for _ in range(VALLEY_LEVELS):
        open_ = ~_bottoms_out(x0, x1, x2, g0, g1, g2) & (x0 < x1) & (x1 < x2)
        x0, x1, x2, g0, g1, g2 = (v[open_] for v in (x0, x1, x2, g0, g1, g2))
        if len(x0) == 0:
            break
        xl, xr = 0.5 * (x0 + x1), 0.5 * (x1 + x2)
        both = gradient(np.concatenate([xl, xr]))
        gl, gr = both[:len(xl)], both[len(xl):]
        xs5 = np.stack([x0, xl, x1, xr, x2], axis=1)
        gs5 = np.stack([g0, gl, g1, gr, g2], axis=1)
        crossed = np.any(np.sign(gs5) != np.sign(g1)[:, None], axis=1)
        for row in np.nonzero(crossed)[0]:
            found.extend((float(xs5[row, k]), float(xs5[row, k + 1]), float(gs5[row, k]),
                          float(gs5[row, k + 1])) for k in range(4))
        lowest = 1 + np.argmin(np.abs(gs5[:, 1:4]), axis=1)  # around the lowest |g|
        rows = np.arange(len(x0))
        x0, x1, x2 = (xs5[rows, lowest + k] for k in (-1, 0, 1))
        g0, g1, g2 = (gs5[rows, lowest + k] for k in (-1, 0, 1))
        keep = ~crossed
        x0, x1, x2, g0, g1, g2 = (v[keep] for v in (x0, x1, x2, g0, g1, g2))
    return found


def _bottoms_out(x0: Array, x1: Array, x2: Array, g0: Array, g1: Array, g2: Array
                 ) -> NDArray[np.bool_]:
    """Whether the parabola through three samples around a dip of ``|g|`` stays on the
    side of ``g1``, at more than half of ``|g1|`` (the dip holds no root)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s0, s2 = (g0 - g1) / (x0 - x1), (g2 - g1) / (x2 - x1)
        curvature = (s2 - s0) / (x2 - x0)  # half the second derivative
        slope = s0 - curvature * (x0 - x1)  # at x1
        vertex = g1 - slope**2 / (4 * curvature)
    return np.isfinite(vertex) & (np.sign(vertex) == np.sign(g1)) & (
        np.abs(vertex) > 0.5 * np.abs(g1))


def _classify_point(engine: Engine, base: Array, j: int, value: float, spacing: float
                    ) -> tuple[str, float, float]:
    """Kind from the loss on both sides (robust at kinks), loss and curvature there;
    ``spacing``: the probes stay within a quarter of it. Where the loss on both sides
    is equal to the centre's to rounding (probes that close to a smooth extremum), the
    sign of the curvature tells."""
    h = min(1e-4, spacing / 4)
    probes = np.repeat(base[None, :], 3, axis=0)
    probes[:, j] = [value - h, value, value + h]
    loss, _, curv = engine.loss_grad_curv(probes)
    rounding = 64 * np.finfo(float).eps * float(np.max(np.abs(loss)))
    if loss[0] > loss[1] and loss[2] > loss[1]:
        kind = "minimum"
    elif loss[0] < loss[1] and loss[2] < loss[1]:
        kind = "maximum"
    elif max(abs(loss[0] - loss[1]), abs(loss[2] - loss[1])) <= rounding and curv[1, j] != 0:
        kind = "minimum" if curv[1, j] > 0 else "maximum"
    else:
        kind = "inflection"
    return kind, float(loss[1]), float(curv[1, j])


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
