"""Every root of a smooth periodic function, certified: the search the spectral engine
runs on the derivative of its series (:mod:`gabordiag.engines.series`) to find the
stationary points of the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_OPEN_INTERVALS", "RootBounds", "periodic_roots"]

Array = NDArray[np.float64]

MAX_OPEN_INTERVALS = 1 << 18  # open intervals at most (their evaluations' memory)


@dataclass(frozen=True)
class RootBounds:
    """What :func:`periodic_roots` needs to know of ``f`` beyond its values.

    ``slope``: ``|f'| <= slope`` everywhere; ``curvature``: ``|f''| <= curvature``
    everywhere; ``noise`` and ``slope_noise``: bounds on the rounding error of one
    evaluation of ``f`` and of ``f'``. ``local``, when given, maps points ``x`` to
    pointwise bounds ``(noise(x), slope_noise(x))`` on those rounding errors, used
    instead of the constants: where ``f`` is computed as a small factor times a series
    (the MSE near its zero) its rounding is as small as its values.
    """

    slope: float
    curvature: float
    noise: float
    slope_noise: float
    local: Callable[[Array], tuple[Array, Array]] | None = None

    def at(self, x: Array) -> tuple[Array, Array]:
        """The rounding bounds of ``f`` and ``f'`` at the points ``x``."""
        if self.local is not None:
            return self.local(x)
        return np.full(x.shape, self.noise), np.full(x.shape, self.slope_noise)


def periodic_roots(derivatives: Callable[[Array], tuple[Array, Array]],
                   value: Callable[[Array], Array], start: float, period: float,
                   size: int, bounds: RootBounds, tiny: float = 1e-13,
                   max_open: int = 64) -> Array:
    """Every root of a smooth periodic ``f`` over ``[start, start + period)``.

    Every interval ``[a, b]`` is settled by one of these certificates, from the values
    ``f(a), f(b)`` and slopes ``f'(a), f'(b)`` and the bounds ``|f'| <= L1``,
    ``|f''| <= L2`` (``bounds``):

    * *no root*: ``|f(a)| + |f(b)| > L1 (b - a)``. A root ``x`` in ``[a, b]`` would give
      ``|f(a)| = |f(a) - f(x)| <= L1 (x - a)`` and ``|f(b)| <= L1 (b - x)``, whose sum
      is ``L1 (b - a)``. Or, to second order from one end, ``|f(a)| > |f'(a)| (b - a) +
      L2 (b - a)^2 / 2``: Taylor's bound ``|f(x) - f(a) - f'(a) (x - a)| <= L2 (x -
      a)^2 / 2`` keeps ``f`` away from zero on ``[a, b]`` (likewise from ``b``).
    * *monotone*: ``|f'(a)| + |f'(b)| > L2 (b - a)``. By the same argument ``f'`` has no
      zero in ``[a, b]``, so ``f`` is strictly monotone there: at most one root, found
      when ``f(a)`` and ``f(b)`` differ in sign (refined by bisection to rounding) or
      when ``|f|`` is at the rounding level at an end.

    Both tests allow for the rounding of the evaluations (``bounds``: its constants, or
    its pointwise bounds at each end), so they hold for the exact ``f`` too. An
    interval that neither settles is halved and both halves are tested again. So
    every root is found, whatever the roots' spacing: an interval holding several
    roots is neither root-free nor monotone, and is split until each piece holds one.
    Near a simple root ``r`` the monotone test succeeds once ``b - a`` is below about
    ``2 |f'(r)| / L2``; only at a multiple root (where ``f`` and ``f'`` both vanish)
    does an interval stay unsettled, down to ``tiny * period``: it is reported as one
    root there. The work is one vectorised evaluation of ``f`` and ``f'`` per halving
    of the still-open intervals, of which there are a few per root.

    No root is reported twice. Monotone intervals that touch make one monotone stretch
    (``f'`` has no zero on either, and they share an end), which holds at most one
    root: a root near the shared end, where ``f`` is at its rounding level, would
    otherwise be found once from each side (a sign change on one, ``|f|`` at the
    rounding level at the end of the other), a few rounding widths apart. One root is
    reported per stretch: from its sign change that stands furthest above the
    rounding, else from the end where ``|f|`` is least.

    The certificates weaken near a cluster of four or more nearly coincident roots
    (or a root of that multiplicity), where ``f`` and ``f'`` are both tiny over a
    stretch, and over a stretch where ``f`` is tiny without vanishing: should the open
    intervals ever exceed ``max_open * size`` (or :data:`MAX_OPEN_INTERVALS`, which
    bounds the memory), those whose ends both have ``f`` within its rounding are let
    go (flat to working precision: one point in the middle of a run of them across
    which ``f`` changes sign, none otherwise), then the largest runs of touching open
    intervals are resolved at the spacing reached, by every sign change between their
    ends that rises above the rounding (bisected), until half the cap is left; the
    others go on being halved, so that a root elsewhere (the target's, flat to fourth
    order) is still settled by the certificates. Only in a resolved run could a root
    of even multiplicity, or roots closer than the spacing reached or than the
    rounding of ``f`` allows to tell apart, go unreported; such clusters do not occur
    in a loss landscape except by coincidence (or in a landscape flat to rounding over
    a stretch, where the series resolves nothing).

    Parameters
    ----------
    derivatives : callable
        ``x -> (f(x), f'(x))`` for an array ``x``.
    value : callable
        ``x -> f(x)`` (for the bisection).
    start, period : float
    size : int
        The first grid: ``size`` intervals over the period. About ``L1 / max |f|``
        intervals per period lets the first pass exclude most of them.
    bounds : RootBounds
    tiny : float
        Width, relative to the period, below which an unsettled interval is reported
        as a (multiple) root.

    Returns
    -------
    numpy.ndarray
        The roots, unsorted, in ``[start, start + period]`` (a root at ``start`` may
        come back at ``start + period`` too, and a multiple root as a few points within
        ``tiny * period``).

    Examples
    --------
    >>> f = lambda x: (np.sin(x) ** 3 - 1e-4 * np.sin(x), 3 * np.sin(x) ** 2 * np.cos(x)
    ...                - 1e-4 * np.cos(x))
    >>> bounds = RootBounds(slope=4.0, curvature=10.0, noise=1e-15, slope_noise=1e-14)
    >>> roots = periodic_roots(f, lambda x: f(x)[0], -0.05, 2 * np.pi, 64, bounds)
    >>> sorted({round(float(r), 4) + 0.0 for r in roots})  # three roots 0.01 apart, twice
    [-0.01, 0.0, 0.01, 3.1316, 3.1416, 3.1516]
    """
    lip, lip2 = bounds.slope, bounds.curvature
    a = start + np.arange(size, dtype=np.float64) * (period / size)
    b = np.append(a[1:], start + period)  # the last end is the first, a period on
    fa, da = derivatives(a)
    na, sa = bounds.at(a)
    fb, db, nb, sb = (np.roll(x, -1) for x in (fa, da, na, sa))
    roots: list[Array] = []
    brackets: list[tuple[Array, Array, Array]] = []
    settled = _Monotone()
    cap = min(max_open * size, MAX_OPEN_INTERVALS)
    while len(a):
        if len(a) > cap:  # clusters of nearly coincident roots, or flat stretches:
            # what is flat to rounding is let go (no sign change in it rises above the
            # rounding); of the rest, the largest clusters are resolved at this spacing
            # and the others go on being halved
            flat = (np.abs(fa) <= na) & (np.abs(fb) <= nb)
            roots.append(_across_flat_runs(a[flat], b[flat], fa[flat], fb[flat]))
            a, b, fa, fb, da, db, na, nb, sa, sb = (
                x[~flat] for x in (a, b, fa, fb, da, db, na, nb, sa, sb))
            resolve = _largest_clusters(a, b, len(a) - cap // 2)
            roots.append(_resolve(a[resolve], b[resolve], fa[resolve], fb[resolve],
                                  na[resolve], nb[resolve], brackets))
            a, b, fa, fb, da, db, na, nb, sa, sb = (
                x[~resolve] for x in (a, b, fa, fb, da, db, na, nb, sa, sb))
        width = b - a
        unsettled = np.abs(fa) + np.abs(fb) <= lip * width + na + nb
        taylor = (0.5 * lip2) * width**2
        for value_at, slope_at, noise_at, slope_noise_at in ((fa, da, na, sa),
                                                             (fb, db, nb, sb)):
            # f from either end, to second order
            unsettled &= (np.abs(value_at) <= (np.abs(slope_at) + slope_noise_at) * width
                          + taylor + noise_at)
        monotone = unsettled & (np.abs(da) + np.abs(db) > lip2 * width + sa + sb)
        settled.add(monotone, a, b, fa, fb, na, nb)
        keep = unsettled & ~monotone
        a, b, fa, fb, da, db, na, nb, sa, sb = (
            x[keep] for x in (a, b, fa, fb, da, db, na, nb, sa, sb))
        small = (b - a) < tiny * period
        roots.append(0.5 * (a[small] + b[small]))  # f and f' at the rounding level
        a, b, fa, fb, da, db, na, nb, sa, sb = (
            x[~small] for x in (a, b, fa, fb, da, db, na, nb, sa, sb))
        middle = 0.5 * (a + b)
        fm, dm = derivatives(middle)
        nm, sm = bounds.at(middle)
        a, b = np.concatenate([a, middle]), np.concatenate([middle, b])
        fa, fb = np.concatenate([fa, fm]), np.concatenate([fm, fb])
        da, db = np.concatenate([da, dm]), np.concatenate([dm, db])
        na, nb = np.concatenate([na, nm]), np.concatenate([nm, nb])
        sa, sb = np.concatenate([sa, sm]), np.concatenate([sm, sb])
    ends, monotone_brackets = settled.roots(start, period)
    roots.append(ends)
    brackets.append(monotone_brackets)
    low, high, f_low = (np.concatenate(part) for part in zip(*brackets, strict=True))
    roots.append(_bisect(value, low, high, f_low))  # all brackets at once
    return np.concatenate(roots)


class _Monotone:
    """The monotone intervals that hold a root, one per stretch of touching ones.

    Each such interval is kept with its ends and what it says of its root: a sign
    change (a bracket), or an end where ``|f|`` is at the rounding level.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[Array, ...]] = []

    def add(self, monotone: NDArray[np.bool_], a: Array, b: Array, fa: Array, fb: Array,
            na: Array, nb: Array) -> None:
        """Keep the monotone intervals with a root: a sign change, or an end at the
        rounding level."""
        change = np.sign(fa) * np.sign(fb) < 0
        level_a, level_b = np.abs(fa) <= na, np.abs(fb) <= nb
        held = monotone & (change | level_a | level_b)
        if np.any(held):  # the sign change as 1.0 / 0.0, with the values
            self._parts.append(tuple(x[held] for x in (a, b, fa, fb, na, nb,
                                                       change.astype(np.float64))))

    def roots(self, start: float, period: float
              ) -> tuple[Array, tuple[Array, Array, Array]]:
        """One root per stretch: an end at the rounding level (returned), or a bracket
        (``low, high, f(low)``) to bisect."""
        empty = np.empty(0)
        if not self._parts:
            return empty, (empty, empty, empty)
        a, b, fa, fb, na, nb, changed = (np.concatenate(x) for x in zip(*self._parts,
                                                                        strict=True))
        order = np.argsort(a, kind="stable")
        a, b, fa, fb, na, nb, changed = (x[order] for x in (a, b, fa, fb, na, nb, changed))
        change = changed > 0
        first = np.concatenate([[True], a[1:] != b[:-1]])  # a stretch starts here
        stretch = np.cumsum(first) - 1
        if len(a) > 1 and a[0] == start and b[-1] == start + period and stretch[-1] > 0:
            stretch[stretch == stretch[-1]] = 0  # the stretch across the period's end
        # within a stretch: the sign change whose ends stand furthest above their rounding
        # first, then the end at the rounding level where |f| is least
        margin = np.minimum(np.abs(fa) - na, np.abs(fb) - nb)
        use_a = (np.abs(fa) <= na) & ((np.abs(fb) > nb) | (np.abs(fa) <= np.abs(fb)))
        rank = np.where(change, -margin, np.where(use_a, np.abs(fa), np.abs(fb)))
        pick = np.lexsort((rank, ~change, stretch))
        chosen = pick[np.concatenate([[True], np.diff(stretch[pick]) != 0])]
        bracket = chosen[change[chosen]]
        at_end = chosen[~change[chosen]]
        ends = np.where(use_a[at_end], a[at_end], b[at_end])
        return ends, (a[bracket], b[bracket], fa[bracket])


def _across_flat_runs(a: Array, b: Array, fa: Array, fb: Array) -> Array:
    """The middle of each run of touching intervals, all within the rounding, across
    which ``f`` changes sign (a root of odd multiplicity, such as a triple root, whose
    place is known to the run's width)."""
    if len(a) == 0:
        return a
    order = np.argsort(a, kind="stable")
    a, b, fa, fb = a[order], b[order], fa[order], fb[order]
    first = np.concatenate([[True], a[1:] != b[:-1]])
    starts = np.flatnonzero(first)
    stops = np.append(starts[1:], len(a)) - 1
    crossed = np.sign(fa[starts]) * np.sign(fb[stops]) < 0
    return 0.5 * (a[starts] + b[stops])[crossed]


def _largest_clusters(a: Array, b: Array, count: int) -> NDArray[np.bool_]:
    """The open intervals of the largest clusters (runs of touching intervals), at
    least ``count`` of them."""
    chosen = np.zeros(len(a), dtype=bool)
    if count <= 0:
        return chosen
    order = np.argsort(a, kind="stable")
    first = np.concatenate([[True], a[order][1:] != b[order][:-1]])
    cluster = np.cumsum(first) - 1
    sizes = np.bincount(cluster)
    by_size = np.argsort(-sizes, kind="stable")
    taken = by_size[:int(np.searchsorted(np.cumsum(sizes[by_size]), count)) + 1]
    chosen[order] = np.isin(cluster, taken)
    return chosen


def _resolve(a: Array, b: Array, fa: Array, fb: Array, na: Array, nb: Array,
             brackets: list[tuple[Array, Array, Array]]) -> Array:
    """Open intervals at the spacing reached: their sign changes that rise above the
    rounding of ``f`` (added to ``brackets``); between two values within the rounding a
    change of sign is noise, not a root."""
    change = (np.sign(fa) * np.sign(fb) < 0) & ((np.abs(fa) > na) | (np.abs(fb) > nb))
    brackets.append((a[change], b[change], fa[change]))
    return a[:0]


def _bisect(value: Callable[[Array], Array], low: Array, high: Array, f_low: Array) -> Array:
    """Roots in brackets where ``value`` changes sign, to rounding (vectorised)."""
    if len(low) == 0:
        return low
    for _ in range(64):
        middle = 0.5 * (low + high)
        if np.all((middle <= low) | (middle >= high)):
            break
        f_middle = value(middle)
        same = np.sign(f_middle) == np.sign(f_low)
        low, f_low = np.where(same, middle, low), np.where(same, f_middle, f_low)
        high = np.where(same, high, middle)
    return 0.5 * (low + high)
