"""Your kernel against the built-in one: whether they agree at the same parameters, and
if not, which transformation maps one onto the other (the sign of theta, degrees for
radians, x and y exchanged, a mirror, a scale, a shifted centre ...).

A user kernel that differs from ours is not necessarily wrong (it may be another
convention), but its parameters then mean something else than ours: this says what.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.kernel import gabor_kernel
from .study import Study

__all__ = ["AGREEMENT_RTOL", "KernelComparison", "compare_with_builtin"]

Array = NDArray[np.float64]
AGREEMENT_RTOL = 1e-6  # |yours - ours| / |ours| below this at every point: the same kernel

Params = dict[str, float]


def _ours(ksize: int, p: Params) -> Array:
    return gabor_kernel(ksize, sigma=p["sigma"], theta=p["theta"], lambd=p["lambda"],
                        gamma=p["gamma"], psi=p["psi"])


# name -> (what it means, the built-in kernel transformed that way)
_TRANSFORMS: dict[str, tuple[str, Callable[[int, Params], Array]]] = {
    "theta-sign": ("theta has the opposite sign (your theta = -ours: the angle is measured "
                   "the other way, e.g. y pointing up)",
                   lambda k, p: _ours(k, {**p, "theta": -p["theta"]})),
    "theta-degrees": ("theta is taken in degrees (your theta = ours in degrees)",
                      lambda k, p: _ours(k, {**p, "theta": math.radians(p["theta"])})),
    "theta-quarter": ("theta is measured from the other axis (your theta = pi/2 - ours)",
                      lambda k, p: _ours(k, {**p, "theta": math.pi / 2 - p["theta"]})),
    "transposed": ("x and y are exchanged (the kernel is transposed)",
                   lambda k, p: _ours(k, p).T),
    "mirrored-lr": ("x points the other way (mirrored left-right)",
                    lambda k, p: _ours(k, p)[:, ::-1]),
    "mirrored-ud": ("y points up instead of down (mirrored up-down)",
                    lambda k, p: _ours(k, p)[::-1, :]),
    "rotated": ("the kernel is rotated by 180 degrees (flipped: convolve vs correlate)",
                lambda k, p: _ours(k, p)[::-1, ::-1]),
    "psi-sign": ("psi has the opposite sign (your psi = -ours, OpenCV's convention)",
                 lambda k, p: _ours(k, {**p, "psi": -p["psi"]})),
    "frequency": ("lambda is taken as a frequency (your lambda = 1 / ours)",
                  lambda k, p: _ours(k, {**p, "lambda": 1.0 / p["lambda"]})),
    "angular-frequency": ("lambda is taken as an angular frequency (your lambda = "
                          "2 pi / ours)",
                          lambda k, p: _ours(k, {**p, "lambda": 2 * math.pi / p["lambda"]})),
}


@dataclass
class KernelComparison:
    """Your kernel and ours at the same parameters, at several points."""

    max_rel_difference: float
    agrees: bool
    explanations: list[str]
    scale: float | None = None  # yours = scale x ours (or transformed), when constant
    shift: tuple[int, int] | None = None  # (rows, columns) your centre is off by

    def summary(self) -> str:
        """One sentence: agreement, or what maps ours onto yours."""
        if self.agrees:
            return (f"your kernel equals the built-in Gabor kernel at every point checked "
                    f"(largest relative difference {self.max_rel_difference:.1e})")
        if self.explanations:
            return ("your kernel differs from the built-in one (largest relative difference "
                    f"{self.max_rel_difference:.2g}) in a way that fits every point checked: "
                    + "; ".join(self.explanations))
        return ("your kernel differs from the built-in one (largest relative difference "
                f"{self.max_rel_difference:.2g}) and no simple transformation (theta's sign, "
                "degrees, x/y exchange, mirror, scale, centre shift, frequency for "
                "wavelength) explains it")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"max_rel_difference": self.max_rel_difference, "agrees": self.agrees,
                "explanations": self.explanations, "scale": self.scale,
                "shift": list(self.shift) if self.shift else None,
                "summary": self.summary()}


def compare_with_builtin(study: Study, points: list[Params]) -> KernelComparison:
    """Compare the study's kernel (the user's ``--kernel``) with the built-in one at
    ``points``: a transformation is named only when it holds at every point."""
    problem = study.problem()
    k = problem.ksize
    yours = [np.asarray(problem.kernels(p, ())[0]) for p in points]
    ours = [_ours(k, p) for p in points]
    worst = max(_relative(y, o) for y, o in zip(yours, ours))
    if worst < AGREEMENT_RTOL:
        return KernelComparison(worst, True, [])
    explanations, scale = [], None
    for words, transform in _TRANSFORMS.values():
        factors = _scales(yours, [transform(k, p) for p in points])
        if factors is not None:
            explanations.append(words + _scale_words(factors, points, "and scaled"))
    factors = _scales(yours, ours)
    if factors is not None:
        constant = max(factors) - min(factors) <= 1e-6 * abs(factors[0])
        scale = factors[0] if constant else None
        explanations.append("the same shape" + _scale_words(factors, points, "scaled"))
    shift = _common_shift(yours, ours)
    if shift is not None:
        explanations.append(f"the centre is off by {shift[0]} row(s) and {shift[1]} "
                            "column(s) (c = ksize // 2 expected)")
    return KernelComparison(worst, False, explanations, scale, shift)


def _relative(a: Array, b: Array) -> float:
    scale = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / scale if scale > 0 else float(np.linalg.norm(a))


def _scales(yours: list[Array], mapped: list[Array]) -> list[float] | None:
    """``c_i`` with ``yours_i = c_i mapped_i`` at every point (to AGREEMENT_RTOL), else
    None."""
    factors = []
    for y, m in zip(yours, mapped):
        norm = float(np.vdot(m, m))
        if norm == 0:
            return None
        c = float(np.vdot(y, m)) / norm
        if _relative(y, c * m) >= AGREEMENT_RTOL:
            return None
        factors.append(c)
    return factors


_NAMED_FACTORS: dict[str, Callable[[Params], float]] = {
    "1 / (2 pi sigma^2), a normalised Gaussian": lambda p: 1 / (2 * math.pi * p["sigma"] ** 2),
    "gamma / (2 pi sigma^2), a normalised Gaussian as in scikit-image":
        lambda p: p["gamma"] / (2 * math.pi * p["sigma"] ** 2),
    "-1 (the opposite sign)": lambda p: -1.0,
}


def _scale_words(factors: list[float], points: list[Params], lead: str) -> str:
    """``""`` for a factor of 1; else the factor, named when it is a known one."""
    if all(abs(c - 1) <= 1e-6 for c in factors):
        return ""
    for name, formula in _NAMED_FACTORS.items():
        if all(abs(c - formula(p)) <= 1e-6 * abs(formula(p)) for c, p in zip(factors, points)):
            return f", {lead} by {name}"
    if max(factors) - min(factors) <= 1e-6 * abs(factors[0]):
        return f", {lead} by {factors[0]:.6g}"
    return (f", {lead} by a factor that changes with the parameters "
            f"({min(factors):.3g} .. {max(factors):.3g})")


def _common_shift(yours: list[Array], ours: list[Array]) -> tuple[int, int] | None:
    """A shift of up to 2 pixels that maps ours onto yours (inside the border) at every
    point."""
    k = ours[0].shape[0]
    inner = slice(2, k - 2)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            if (dy, dx) == (0, 0):
                continue
            if all(_relative(y[inner, inner],
                             np.roll(o, (dy, dx), axis=(0, 1))[inner, inner]) < 1e-6
                   for y, o in zip(yours, ours)):
                return dy, dx
    return None
