"""What a wrong derivative looks like: the distortions of the right one (a sign flip, a
constant factor, a transposed, mirrored or rotated kernel, a shifted centre) that
``gradcheck`` recognises and names, and the one that holds at every failing point.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["mismatch_explanations", "one_explanation"]

Array = NDArray[np.float64]


def mismatch_explanations(analytic: Array, reference: Array, tol: float = 1e-3
                          ) -> list[str]:
    """Every recognisable distortion that turns ``reference`` into ``analytic``: a sign
    flip, a constant factor, a transposed, mirrored or rotated kernel, a shifted
    centre. At symmetric angles several can hold at once."""
    norm = float(np.linalg.norm(reference))
    if norm == 0:
        return []

    def close(a: Array, b: Array, scale: float = 1.0) -> bool:
        return float(np.linalg.norm(a - b)) <= scale * tol * norm

    found = []
    if close(analytic, -reference):
        found.append("sign flip: the derivative has the opposite sign")
    factor = float(np.vdot(analytic, reference) / norm**2)
    if abs(factor - 1) > tol and abs(factor + 1) > tol and close(analytic, factor * reference):
        named = {2.0: "2", 0.5: "1/2", math.pi / 180: "pi/180 (degrees vs radians)",
                 180 / math.pi: "180/pi (degrees vs radians)"}
        label = next((text for value, text in named.items()
                      if abs(factor - value) < 1e-3 * abs(value)), f"{factor:.6g}")
        found.append(f"factor error: the derivative is {label} times the right one")
    for label, distorted in (("transposed (rows and columns swapped, x and y exchanged)",
                              reference.T),
                             ("rotated by 180 degrees (flipped kernel, convolve vs correlate)",
                              reference[::-1, ::-1]),
                             ("mirrored left-right (x pointing the other way)",
                              reference[:, ::-1]),
                             ("mirrored up-down (y pointing up instead of down)",
                              reference[::-1, :])):
        if close(analytic, distorted) and not close(distorted, reference):
            found.append(f"layout error: the derivative is {label}")
    k = reference.shape[0]
    inner = slice(2, k - 2)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if (dy, dx) == (0, 0):
                continue
            shifted = np.roll(reference, (dy, dx), axis=(0, 1))
            if close(analytic[inner, inner], shifted[inner, inner], 10.0):
                found.append(f"wrong centre: the derivative is the right one shifted by "
                             f"{dy} row(s) and {dx} column(s) (c = ksize // 2?)")
    return found


def one_explanation(explanations: list[list[str]]) -> str | None:
    """The explanation that holds at every failing point (at symmetric angles several
    fit: a transposed theta derivative equals minus the right one at theta = pi/4, so a
    point that tells them apart decides)."""
    if not explanations or not all(explanations):
        return None
    common = [e for e in explanations[0] if all(e in other for other in explanations[1:])]
    if common:
        return common[0]
    return "no single explanation fits every failing point"
