"""The words a figure prints, derived from the results it draws (no matplotlib here).

Every sentence is built from a run's verdict evidence and the stability facts, so that
it is true of the run drawn; nothing about a particular case is written down here.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

__all__ = ["angle_name", "mechanism_caption", "relative_to_target", "step_sentence"]

_DENOMINATORS = (1, 2, 3, 4, 6, 8, 12)


def angle_name(value: float, tol: float = 1e-6) -> str:
    """``-3pi/4`` for -2.35619..., a plain number (3 decimals) otherwise.

    Examples
    --------
    >>> angle_name(-3 * math.pi / 4), angle_name(math.pi), angle_name(0.3)
    ('-3pi/4', 'pi', '0.300')
    """
    for q in _DENOMINATORS:
        k = value / math.pi * q
        if abs(k - round(k)) < tol * q:
            f = Fraction(round(k), q)
            if f == 0:
                return "0"
            sign = "-" if f < 0 else ""
            num, den = abs(f.numerator), f.denominator
            head = "pi" if num == 1 else f"{num}pi"
            return sign + head + (f"/{den}" if den != 1 else "")
    return f"{value:.3f}"


def relative_to_target(value: float, target: float, period: float | None,
                       tol: float = 1e-6) -> str | None:
    """``"target"``, ``"target - pi"`` or ``"target + 2pi"`` when ``value`` is the target
    plus a whole number of loss periods; ``None`` otherwise."""
    if period is None:
        return "target" if abs(value - target) < tol else None
    k = (value - target) / period
    if abs(k - round(k)) > tol:
        return None
    n = round(k)
    if n == 0:
        return "target"
    shift = angle_name(abs(n) * period)
    return f"target {'+' if n > 0 else '-'} {shift}"


def _where(value: float, target: float, period: float | None) -> str:
    name = angle_name(value)
    relation = relative_to_target(value, target, period, tol=1e-4)
    if relation is None or relation == name:
        return name
    return f"{name} = {relation}"


def step_sentence(lr: float, slope: float) -> str:
    """``step = lr x slope = 0.003 x 41.6 = 0.125 rad``."""
    return f"step = lr x slope = {lr:g} x {slope:.3g} = {lr * slope:.3g} rad"


def mechanism_caption(verdict: Any, target: float, period: float | None,
                      kink_slope: float | None = None, lr: float | None = None,
                      curvature: float | None = None, plain: bool = True) -> str:
    """What the reader sees in the mechanism figure of a run, from its verdict.

    ``plain`` says the run is plain SGD on theta alone, whose step is ``lr x gradient``:
    only then is the step near a kink ``lr x slope`` and near a smooth minimum a
    factor ``1 - lr c``."""
    ev = verdict.evidence
    kind = verdict.kind
    if kind == "cycling" and "amplitude" in ev:
        if ev.get("across_basins"):
            head = (f"thrown across basins: the iterate swings over "
                    f"{ev.get('span', 2 * ev['amplitude']):.3g} rad, more than half the period")
            return head
        period_k = ev.get("period")
        shape = (f"period-{period_k} oscillation" if period_k else "irregular oscillation")
        around = ""
        if ev.get("minimum_found") and ev.get("minimum") is not None:
            around = f" around {_where(float(ev['minimum']), target, period)}"
        lines = [f"{shape} of amplitude {ev['amplitude']:.2g} rad{around}"]
        if period_k and ev.get("limit_cycle"):
            lines[0] += f": a fixed cycle (it repeats to {ev['repeat_error']:.1g} of its swing)"
        else:
            low, high = ev["centre_range"]
            a_low, a_high = ev["amplitude_range"]
            drift = []
            if high - low > 0.2 * max(ev["amplitude"], 1e-300):
                drift.append(f"its centre wanders over {low:.3f} .. {high:.3f}")
            if a_high > 1.1 * a_low:
                drift.append(f"its amplitude over {a_low:.2g} .. {a_high:.2g}")
            slips = ev.get("phase_slips") or []
            if slips:
                drift.append(f"{len(slips)} phase slip{'s' if len(slips) > 1 else ''} "
                             f"(step {', '.join(str(s) for s in slips[:3])}"
                             + (" ..." if len(slips) > 3 else "") + ")")
            if drift:
                lines.append("not a fixed cycle: " + "; ".join(drift))
        if kink_slope is not None and not plain and ev.get("minimum_is_target"):
            lines.append(f"the loss has a kink at the minimum (slopes ±{kink_slope:.3g}): "
                         "the gradient does not shrink near it, so updates at a fixed lr "
                         "cannot die out there")
        elif kink_slope is not None and lr is not None and ev.get("minimum_is_target"):
            lines.append(f"the loss has a kink at the minimum (slopes ±{kink_slope:.3g}): "
                         f"each {step_sentence(lr, kink_slope)} near it, "
                         "so the iterate jumps over the minimum and back")
        elif (curvature is not None and lr is not None and curvature > 0 and plain
              and ev.get("minimum_is_target")):
            factor = 1 - lr * curvature
            lines.append(f"curvature {curvature:.4g} at the minimum: a plain step multiplies "
                         f"the distance to it by 1 - lr c = {factor:.3g}"
                         + (", so it cannot shrink" if abs(factor) >= 1 else ""))
        return "\n".join(lines)
    if verdict.recovered:
        final = ev.get("final", {})
        value = final.get("theta") if isinstance(final, dict) else None
        where = f" at {_where(float(value), target, period)}" if value is not None else ""
        text = f"{kind}{where}: the iterates settle (kernel error {ev['kernel_error']:.1g})"
        if curvature is not None and lr is not None and curvature > 0 and plain:
            factor = 1 - lr * curvature
            text += (f"\nnear the minimum each step multiplies the distance by "
                     f"1 - lr c = 1 - {lr:g} x {curvature:.4g} = {factor:.3g}")
        return text
    return " ".join(verdict.message.split())[:160]
