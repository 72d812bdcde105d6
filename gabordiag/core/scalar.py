"""Scalar root and minimum finders on a bracket, small enough not to need
``scipy.optimize`` (whose import alone costs half a second on every command)."""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["bracketed_root", "golden_minimum"]

_INV_PHI = (math.sqrt(5) - 1) / 2


def bracketed_root(f: Callable[[float], float], a: float, b: float,
                   xtol: float = 1e-13, max_iter: int = 200) -> float:
    """A root of ``f`` in ``[a, b]`` where ``f(a)`` and ``f(b)`` differ in sign.

    Illinois false position (superlinear on smooth functions) with a bisection step
    whenever it stalls, so a kink or a jump is bracketed down to ``xtol`` too.

    Examples
    --------
    >>> round(bracketed_root(lambda x: x * x - 2, 0.0, 2.0), 12)
    1.414213562373
    """
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    if fa * fb > 0:
        raise ValueError("f(a) and f(b) must differ in sign")
    side = 0
    for _ in range(max_iter):
        if abs(b - a) <= xtol * max(1.0, abs(a), abs(b)):
            break
        c = (a * fb - b * fa) / (fb - fa)
        if not a < c < b if a < b else not b < c < a:
            c = (a + b) / 2
        fc = f(c)
        if fc == 0:
            return c
        if fc * fb < 0:  # the root lies between c and b
            a, fa = b, fb
            b, fb = c, fc
            side = 0
        else:
            b, fb = c, fc
            fa = fa / 2 if side == -1 else fa  # Illinois: halve the stale end
            side = -1
        if abs(b - a) > 0 and _ % 8 == 7:  # guarantee progress on awkward shapes
            mid = (a + b) / 2
            fm = f(mid)
            if fm == 0:
                return mid
            if fm * fb < 0:
                a, fa = mid, fm
            else:
                b, fb = mid, fm
    return b


def golden_minimum(f: Callable[[float], float], a: float, b: float,
                   xtol: float = 1e-10, max_iter: int = 200) -> tuple[float, float]:
    """The minimum of a unimodal ``f`` on ``[a, b]`` by golden-section search:
    ``(x, f(x))``.

    Examples
    --------
    >>> x, fx = golden_minimum(lambda x: (x - 0.3) ** 2, 0.0, 1.0)
    >>> round(x, 8), fx < 1e-16
    (0.3, True)
    """
    c = b - _INV_PHI * (b - a)
    d = a + _INV_PHI * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(max_iter):
        if abs(b - a) <= xtol:
            break
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _INV_PHI * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _INV_PHI * (b - a)
            fd = f(d)
    return (c, fc) if fc <= fd else (d, fd)
