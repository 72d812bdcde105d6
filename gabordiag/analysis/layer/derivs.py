"""The layer's autograd gradients against central differences of its own forward
(float64), like ``torch.autograd.gradcheck`` but on the scalar the gradient flow uses
and with the mismatch located: which parameter, which element (or direction), at which
point, and its pattern (the sign flipped, a constant factor, a gradient where the
output does not change, none where it does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .flow import FlowResult, Projection

__all__ = ["DerivativeCheck", "ParamDerivatives", "check_derivatives"]

Array = NDArray[np.float64]
STEP = 1e-6      # central-difference step, times max(1, |parameter|)
RTOL = 1e-6      # relative agreement required beyond the differences' own error
EACH = 4         # parameters with at most this many elements are checked element-wise


@dataclass
class DerivativeCheck:
    """One directional derivative ``ds/dp . d``: autograd against central differences."""

    param: str
    point: str
    where: str
    autograd: float
    central: float
    tolerance: float

    @property
    def error(self) -> float:
        """``|autograd - central|``."""
        return abs(self.autograd - self.central)

    @property
    def passed(self) -> bool:
        """Agreement within the tolerance."""
        return self.error <= RTOL * max(abs(self.autograd), abs(self.central)) + self.tolerance

    @property
    def ratio(self) -> float | None:
        """``autograd / central`` where the central difference is above its own error."""
        return self.autograd / self.central if abs(self.central) > self.tolerance else None

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"param": self.param, "point": self.point, "where": self.where,
                "autograd": self.autograd, "central": self.central, "error": self.error,
                "tolerance": self.tolerance, "ratio": self.ratio, "passed": self.passed}


@dataclass
class ParamDerivatives:
    """The checks of one parameter and what their mismatch looks like."""

    param: str
    checks: list[DerivativeCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every check agrees."""
        return all(c.passed for c in self.checks)

    @property
    def max_rel_error(self) -> float:
        """The largest ``|autograd - central| / max(|central|, |autograd|)``."""
        worst = 0.0
        for c in self.checks:
            scale = max(abs(c.central), abs(c.autograd))
            worst = max(worst, c.error / scale if scale > 0 else 0.0)
        return worst

    @property
    def pattern(self) -> str | None:
        """``sign`` (autograd = -central), ``factor`` (a constant other ratio),
        ``no-change`` (a gradient where the output does not change), ``missing`` (a zero
        gradient where it does), ``mixed``; ``None`` when every check passes."""
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return None
        if all(c.ratio is None for c in failed):
            return "no-change"
        if all(c.autograd == 0 for c in failed):
            return "missing"
        ratios = [c.ratio for c in self.checks if c.ratio is not None]
        if ratios and all(abs(r + 1) < 1e-4 for r in ratios):
            return "sign"
        if ratios and max(ratios) - min(ratios) < 1e-4 * max(abs(r) for r in ratios):
            return "factor"
        return "mixed"

    @property
    def factor(self) -> float | None:
        """The constant ratio of a ``sign`` or ``factor`` pattern."""
        if self.pattern not in ("sign", "factor"):
            return None
        ratios = [c.ratio for c in self.checks if c.ratio is not None]
        return float(np.median(ratios))

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"param": self.param, "passed": self.passed,
                "max_rel_error": self.max_rel_error, "pattern": self.pattern,
                "factor": self.factor, "checks": [c.to_dict() for c in self.checks]}


def _directions(values: Array, rng: np.random.Generator) -> list[tuple[str, Array]]:
    n = values.size
    if n <= EACH:
        out = []
        for e in range(n):
            d = np.zeros(n)
            d[e] = 1.0
            where = f"[{', '.join(map(str, np.unravel_index(e, values.shape)))}]" \
                if values.ndim else ""
            out.append((where, d))
        return out
    out = []
    for k in range(2):
        d = rng.standard_normal(n)
        out.append((f"random direction {k + 1}", d / np.max(np.abs(d))))
    return out


def check_derivatives(projection: Projection, flow: FlowResult,
                      points: dict[str, dict[str, tuple[list[int], Any]]],
                      seed: int = 2) -> list[ParamDerivatives]:
    """Check every parameter that requires a gradient and gets one, at each of
    ``points`` (a label -> parameter changes, as :meth:`LayerProbe.changed` takes)."""
    probe = projection.probe
    eps = float(np.finfo(np.float64).eps)
    names = [p.name for p in flow.params if p.requires_grad and p.grad in ("finite", "zero")]
    results = {name: ParamDerivatives(name) for name in names}
    rng = np.random.default_rng(seed)
    for label, changes in points.items():
        with probe.changed(changes):
            projection.backward()
            grads = {n: probe.params[n].grad for n in names}
            size = projection.magnitude()
            state = {n: probe.value(n).ravel().copy() for n in names}
            for name, (idx, values) in changes.items():  # the point's own values
                if name in state:
                    state[name][idx] = values
        for name in names:
            grad = grads[name]
            if grad is None:
                continue
            g = grad.detach().numpy().ravel()
            base = state[name]
            step = STEP * max(1.0, float(np.max(np.abs(base))))
            for where, d in _directions(base.reshape(probe.params[name].shape), rng):
                def s_at(h: float, d: Array = d, name: str = name, base: Array = base,
                         changes: dict[str, Any] = changes) -> float:
                    moved = {**changes, name: (list(range(base.size)), base + h * d)}
                    with probe.changed(moved):
                        return projection.value()

                plus, minus = s_at(step), s_at(-step)
                plus2, minus2 = s_at(2 * step), s_at(-2 * step)
                central = (plus - minus) / (2 * step)
                coarse = (plus2 - minus2) / (4 * step)
                # rounding of s over the step, and the truncation the two steps show
                tolerance = 100 * eps * size / step + abs(coarse - central)
                results[name].checks.append(DerivativeCheck(
                    name, label, where, float(g @ d), float(central), float(tolerance)))
    return [results[n] for n in names]
