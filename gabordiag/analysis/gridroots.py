"""Roots of the gradient along one coordinate from its samples on a grid: the path for
every engine but a converged Fourier series (:mod:`gabordiag.engines.spectral`).

The grid has at least :data:`ROOT_GRID` samples over the span, is made fine enough for
the gradient's own oscillation, and every interval whose cubic model (gradient and
curvature at its ends) may hide a pair of roots is halved until it shows them; each
sign change is then refined on its bracket, all brackets at once. The work beyond the
samples is bounded by :func:`gradient_budget` (from the cost model, so deterministic);
what the budget left undone is said in words.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..engines.base import Engine
from ..engines.choice import call_seconds

__all__ = ["GRADIENT_NOISE", "ROOT_GRID", "bracketed_roots", "gradient_along",
           "gradient_budget", "grid_roots", "slopes_along"]

Array = NDArray[np.float64]
ROOT_GRID = 1024  # sign changes of the gradient are looked for on at least this grid


def grid_roots(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
               curvature: Array, periodic: bool, low: float, high: float
               ) -> tuple[list[float], list[str]]:
    """The gradient's roots along coordinate ``j`` over ``[low, high]`` from the samples
    ``grid`` (``grad``, ``curvature``), and what keeps the list from being complete, in
    words."""
    if len(grid) < ROOT_GRID:  # the roots must not depend on how densely the user samples
        grid = (np.linspace(low, high, ROOT_GRID, endpoint=False) if periodic
                else np.linspace(low, high, ROOT_GRID))
        grad, curvature = slopes_along(engine, base, j, grid)
    budget = gradient_budget(engine)
    largest = int(np.clip(budget // 4, len(grid), MAX_ROOT_GRID))
    grid, grad, curvature, resolved = _resolving_grid(engine, base, j, grid, grad, curvature,
                                                      periodic, largest)
    refine = int(np.clip(budget // 8, 256, MAX_REFINE))
    roots, settled, located = _sign_changes(engine, base, j, grid, grad, curvature, periodic,
                                            refine, budget // 4)
    warnings = []
    if not resolved:
        warnings.append(
            f"the gradient changes sign or turns more than once per {SAMPLES_PER_FEATURE} "
            f"samples even on {len(grid):,} of them: stationary points closer together "
            f"than about {float(grid[1] - grid[0]):.1e} may be missing from the list")
    if not settled:
        warnings.append(
            f"some stretches where the gradient may cross zero more than its samples show "
            f"were still open after {refine:,} more gradients: stationary points "
            "there may be missing from the list")
    if located > 0:
        warnings.append(
            f"the {engine.name} engine could locate the {len(roots):,} stationary points "
            f"only to within {located:.1e} in the time it is given")
    return roots, warnings


STATIONARY_SECONDS = 10.0  # estimated time the grid search may spend beyond its samples


def gradient_budget(engine: Engine) -> int:
    """The gradients the grid search may spend: :data:`STATIONARY_SECONDS` of them by
    the cost model (so that an aliased carrier, thousands of stationary points, cannot
    run for minutes on the direct engine; deterministic, unlike a clock)."""
    per = call_seconds(engine.problem, engine.name, 1024) / 1024
    return int(STATIONARY_SECONDS / max(per, 1e-12))


def slopes_along(engine: Engine, base: Array, j: int, values: Array) -> tuple[Array, Array]:
    """The gradient and the curvature along coordinate ``j`` at ``values``."""
    points = np.repeat(base[None, :], len(values), axis=0)
    points[:, j] = values
    _, grad, curvature = engine.loss_grad_curv(points)
    return grad[:, j], curvature[:, j]


def gradient_along(engine: Engine, base: Array, j: int, values: Array) -> Array:
    points = np.repeat(base[None, :], len(values), axis=0)
    points[:, j] = values
    return engine.loss_and_grad(points)[1][:, j]


SAMPLES_PER_FEATURE = 8  # grid samples per sign change or turn of the gradient, at least
MAX_ROOT_GRID = 16 * 1024  # the densest grid the gradient's sign changes are looked for on


def _resolving_grid(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                    curvature: Array, periodic: bool, largest: int = MAX_ROOT_GRID
                    ) -> tuple[Array, Array, Array, bool]:
    """The grid, doubled until it holds :data:`SAMPLES_PER_FEATURE` samples per sign
    change or turn (a sign change of the curvature) of the gradient, at most
    ``largest`` samples; its gradient and curvature, and whether it got there.
    A grid coarser than the gradient's own oscillation shows neither its sign changes
    nor its turns (a line-thin envelope, ``--gamma 300``, makes hundreds per period)."""
    while True:
        g = np.append(grad, grad[0]) if periodic else grad
        c = np.append(curvature, curvature[0]) if periodic else curvature
        floor = GRADIENT_NOISE * float(np.max(np.abs(g))) if len(g) else 0.0
        loud = np.abs(g) > floor
        changes = np.count_nonzero((np.sign(g[:-1]) * np.sign(g[1:]) < 0)
                                   & (loud[:-1] | loud[1:]))
        turns = np.count_nonzero((np.sign(c[:-1]) * np.sign(c[1:]) < 0)
                                 & (loud[:-1] | loud[1:]))
        if (changes + turns) * SAMPLES_PER_FEATURE <= len(grid):
            return grid, grad, curvature, True
        if 2 * len(grid) > largest:
            return grid, grad, curvature, False
        step = float(grid[1] - grid[0])
        middle = grid + 0.5 * step if periodic else 0.5 * (grid[:-1] + grid[1:])
        size = len(grid) + len(middle)
        finer, finer_grad, finer_curv = np.empty(size), np.empty(size), np.empty(size)
        middle_grad, middle_curv = slopes_along(engine, base, j, middle)
        finer[0::2], finer[1::2] = grid, middle
        finer_grad[0::2], finer_grad[1::2] = grad, middle_grad
        finer_curv[0::2], finer_curv[1::2] = curvature, middle_curv
        grid, grad, curvature = finer, finer_grad, finer_curv


GRADIENT_NOISE = 1e-10  # of the largest |gradient| on the grid: below it, rounding
REFINE_LEVELS = 40  # halvings of an interval whose gradient may cross zero unseen
MAX_REFINE = 16 * 1024  # gradients spent on them, at most
_MODEL_POINTS = np.linspace(0.0, 1.0, 17)  # where the cubic model is looked at


def _sign_changes(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                  curvature: Array, periodic: bool, refine: int = MAX_REFINE,
                  locate: int | None = None) -> tuple[list[float], bool, float]:
    """Every sign change of the gradient between grid points, refined on its bracket
    (with at most ``locate`` gradients), with those that intervals hide between their
    samples (:func:`_settled_intervals`, at most ``refine`` gradients); whether every
    interval was settled, and the widest bracket a root was left in (0: all found to
    :data:`ROOT_XTOL`)."""

    xs, gs, cs = grid, grad, curvature
    if periodic:  # close the loop: the last sample's successor is the first + period
        xs = np.append(grid, grid[0] + (grid[-1] - grid[0]) + (grid[1] - grid[0]))
        gs, cs = np.append(grad, grad[0]), np.append(curvature, curvature[0])
    # a change of sign between two gradients at the rounding floor is noise, not a point
    floor = GRADIENT_NOISE * float(np.max(np.abs(gs))) if len(gs) else 0.0
    intervals, settled = _settled_intervals(lambda v: slopes_along(engine, base, j, v), xs, gs,
                                            cs, floor, refine)
    roots = []
    brackets = []
    located = 0.0
    for low, high, a, b in intervals:
        if max(abs(a), abs(b)) <= floor:
            continue
        if a == 0:
            roots.append(low)
        elif a * b < 0:
            brackets.append((low, high, a, b))
    if brackets:
        lows, highs, ga, gb = (np.array(v) for v in zip(*brackets, strict=True))
        found, located = bracketed_roots(engine, base, j, lows, highs, ga, gb, locate)
        roots.extend(found[np.isfinite(found)].tolist())
        # a change of sign that does not reproduce is rounding noise of a gradient at its
        # floor, or a root on the period's end, where the gradient a period on rounds to
        # the other sign (it is at the floor there)
        lost = ~np.isfinite(found) & (np.minimum(np.abs(ga), np.abs(gb)) <= floor)
        if periodic and np.any(lost & (highs == xs[-1])):
            roots.append(float(xs[0]))
    return sorted(roots), settled, located


ROOT_XTOL = 1e-13  # relative: brackets are halved down to this


def bracketed_roots(engine: Engine, base: Array, j: int, lows: Array, highs: Array,
                     ga: Array | None = None, gb: Array | None = None,
                     budget: int | None = None) -> tuple[Array, float]:
    """The gradient's root in each bracket ``[lows, highs]``, all brackets refined at
    once (one batch of gradients per step, instead of a scalar search per root: an
    aliased carrier has ten thousand of them) by Illinois false position with a
    bisection every fourth step; NaN where the gradients at the ends, computed again,
    do not differ in sign (rounding noise). ``budget`` caps the gradients spent (the
    ends are then computed again only when that fits in a quarter of it: else ``ga``
    and ``gb``, the samples' gradients, are taken); the second value is the widest
    bracket left (0 when every root is found to :data:`ROOT_XTOL`)."""
    again = budget is None or ga is None or gb is None or 8 * len(lows) <= budget
    if again:
        ends = gradient_along(engine, base, j, np.concatenate([lows, highs]))
        fa, fb = ends[:len(lows)], ends[len(lows):]
    else:
        assert ga is not None
        assert gb is not None
        fa, fb = ga.astype(np.float64), gb.astype(np.float64)
    a, b = lows.astype(np.float64), highs.astype(np.float64)
    out = np.full(len(a), np.nan)
    out[fa == 0], out[(fb == 0) & (fa != 0)] = a[fa == 0], b[(fb == 0) & (fa != 0)]
    live = np.flatnonzero((fa * fb < 0) & np.isfinite(fa) & np.isfinite(fb))
    a, b, fa, fb = a[live], b[live], fa[live], fb[live]
    side = np.zeros(len(a))
    spent = 2 * len(lows) if again else 0
    for step in range(200):
        width = np.abs(b - a)
        open_ = width > ROOT_XTOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
        if not open_.any() or (budget is not None and spent + open_.sum() > budget):
            break
        i = np.flatnonzero(open_)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (a[i] * fb[i] - b[i] * fa[i]) / (fb[i] - fa[i])
        inside = (np.minimum(a[i], b[i]) < c) & (c < np.maximum(a[i], b[i]))
        c = np.where(inside & (step % 4 != 3), c, 0.5 * (a[i] + b[i]))
        fc = gradient_along(engine, base, j, c)
        spent += len(c)
        exact = fc == 0
        cross = ~exact & (fc * fb[i] < 0)  # the root lies between c and b
        stay = ~exact & ~cross
        k = i[cross]
        a[k], fa[k] = b[k], fb[k]
        b[k], fb[k], side[k] = c[cross], fc[cross], 0.0
        k = i[stay]
        b[k], fb[k] = c[stay], fc[stay]
        fa[k] = np.where(side[k] == -1, fa[k] / 2, fa[k])  # Illinois: halve the stale end
        side[k] = -1.0
        k = i[exact]
        a[k] = b[k] = c[exact]
    out[live] = b
    unsettled = np.abs(b - a) > ROOT_XTOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    left = float(np.max(np.abs(b - a)[unsettled])) if unsettled.any() else 0.0
    return out, left


def _settled_intervals(slopes: Callable[[Array], tuple[Array, Array]], xs: Array, gs: Array,
                       cs: Array, floor: float, refine: int = MAX_REFINE
                       ) -> tuple[list[tuple[float, float, float, float]], bool]:
    """The grid's intervals ``(low, high, g(low), g(high))``, those that may hide roots
    halved until they show them.

    Between two samples the gradient is modelled by the cubic that matches its values
    and slopes (the curvature) at both ends. An interval is open while that cubic
    crosses zero more often than the ends' signs say (a pair of roots hidden beside a
    sign change, or between ends of one sign), or, with ends of one sign, comes within
    a quarter of the smaller end's ``|g|`` of zero (a dip whose bottom the model does
    not pin down); it is halved, at most :data:`REFINE_LEVELS` times, until the samples
    show the crossings or the model (ever closer to the gradient on shorter intervals)
    shows none. Returns the intervals and whether all of them were settled within
    ``refine`` gradients.
    """
    a, b, ga, gb, ca, cb = xs[:-1], xs[1:], gs[:-1], gs[1:], cs[:-1], cs[1:]
    out: list[tuple[float, float, float, float]] = []
    spent = 0
    settled = True
    for _ in range(REFINE_LEVELS + 1):
        open_ = (_may_hide_roots(a, b, ga, gb, ca, cb, floor)
                 & (b - a > 1e-12 * np.maximum(1.0, np.abs(a))))
        if np.count_nonzero(open_) + spent > refine:
            settled = False
            open_[:] = False
        done = ~open_
        out.extend(zip(a[done].tolist(), b[done].tolist(), ga[done].tolist(),
                       gb[done].tolist(), strict=True))
        a, b, ga, gb, ca, cb = (v[open_] for v in (a, b, ga, gb, ca, cb))
        if len(a) == 0:
            break
        middle = 0.5 * (a + b)
        gm, cm = slopes(middle)
        spent += len(middle)
        a, b = np.concatenate([a, middle]), np.concatenate([middle, b])
        ga, gb = np.concatenate([ga, gm]), np.concatenate([gm, gb])
        ca, cb = np.concatenate([ca, cm]), np.concatenate([cm, cb])
    else:
        out.extend(zip(a.tolist(), b.tolist(), ga.tolist(), gb.tolist(), strict=True))
    return out, settled


def _may_hide_roots(a: Array, b: Array, ga: Array, gb: Array, ca: Array, cb: Array,
                    floor: float) -> NDArray[np.bool_]:
    """Whether the cubic through the ends' gradients and curvatures crosses zero more
    often than the ends' signs show, or dips toward zero between ends of one sign."""
    t = _MODEL_POINTS
    h = (b - a)[:, None]
    model = (ga[:, None] * (2 * t**3 - 3 * t**2 + 1) + (h * ca[:, None]) * (t**3 - 2 * t**2 + t)
             + gb[:, None] * (3 * t**2 - 2 * t**3) + (h * cb[:, None]) * (t**3 - t**2))
    with np.errstate(invalid="ignore"):
        crossings = np.count_nonzero(np.sign(model[:, :-1]) * np.sign(model[:, 1:]) < 0,
                                     axis=1)
    change = np.sign(ga) * np.sign(gb) < 0
    least = np.minimum(np.abs(ga), np.abs(gb))
    dip = ~change & (np.min(np.abs(model), axis=1) < 0.25 * least)
    loud = np.maximum(np.abs(ga), np.abs(gb)) > floor
    return loud & np.isfinite(model).all(axis=1) & ((crossings > change) | dip)
