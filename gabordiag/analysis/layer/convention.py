"""The layer's convention against gabordiag's (OpenCV's): which of our parameters each
of the layer's parameters drives and how (the same, the opposite sign, x and y
exchanged, an angular frequency for a wavelength ...), the kernel's normalisation and
its centre, all measured by fitting our model to the effective kernel of one filter
as loaded and with each parameter nudged either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .fit import GaborFit, fit_gabor
from .flow import FlowResult
from .probe import LayerProbe

__all__ = ["Convention", "ParamMapping", "measure_convention"]

NUDGE = 1e-3
SLOPE_TOL = 1e-4     # a slope or exponent within this of a simple value is that value
OURS = ("theta", "lambda", "sigma", "gamma", "psi")
_SCALES = {"theta": "angle", "psi": "angle", "lambda": "log", "sigma": "log", "gamma": "log"}


@dataclass
class ParamMapping:
    """How one of the layer's parameters maps onto one of ours, near its value."""

    param: str                # the layer's name, with the element: "theta[0]"
    value: float              # the layer's value
    ours: str | None          # the parameter of ours it drives (None: none of them)
    fitted: float | None      # our value there
    kind: str                 # same, opposite, xy-swap, offset, degrees, angular-frequency,
    #                           frequency, factor, inverse, power, other, none
    relation: str             # in words: "lambda = 2 pi / freq"
    slope: float | None = None     # d ours / d yours (angles)
    exponent: float | None = None  # d ln ours / d ln yours (scales)
    constant: float | None = None  # ours = constant * yours^exponent, or the angle offset
    amplitude_exponent: float | None = None  # d ln A / d ln yours

    @property
    def matches(self) -> bool:
        """Our parameter is the layer's own, unchanged."""
        return self.kind == "same"

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"param": self.param, "value": self.value, "ours": self.ours,
                "fitted": self.fitted, "kind": self.kind, "relation": self.relation,
                "slope": self.slope, "exponent": self.exponent, "constant": self.constant,
                "amplitude_exponent": self.amplitude_exponent}


@dataclass
class Convention:
    """The fit of one filter as loaded and the mapping of the layer's parameters."""

    channel: tuple[int, int]
    kernel: NDArray[np.float64]  # the filter's effective kernel, as loaded
    fit: GaborFit
    mappings: list[ParamMapping]
    normalisation: str | None  # a named amplitude, e.g. "1 / (2 pi sigma^2)"

    @property
    def centre_shift(self) -> tuple[float, float] | None:
        """``(dy, dx)`` in pixels when the kernel's centre is not the array's."""
        if abs(self.fit.dx) < 1e-3 and abs(self.fit.dy) < 1e-3:
            return None
        return round(self.fit.dy, 3), round(self.fit.dx, 3)

    def mapping_of(self, name: str) -> ParamMapping | None:
        """The mapping of the layer's parameter ``name`` (its first element)."""
        return next((m for m in self.mappings if m.param.split("[")[0] == name), None)

    def mapping_of_ours(self, ours: str) -> ParamMapping | None:
        """The mapping of the layer's parameter that drives our ``ours``."""
        return next((m for m in self.mappings if m.ours == ours), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"channel": list(self.channel), "kernel": self.kernel.tolist(),
                "fit": self.fit.to_dict(),
                "is_gabor": self.fit.is_gabor,
                "mappings": [m.to_dict() for m in self.mappings],
                "normalisation": self.normalisation,
                "centre_shift": list(self.centre_shift) if self.centre_shift else None}


def _wrap(value: float, period: float) -> float:
    """Into ``(-period / 2, period / 2]``."""
    return period / 2 - (period / 2 - value) % period


def _deltas(f1: GaborFit, f0: GaborFit) -> dict[str, float]:
    """Our parameters' changes from fit ``f0`` to ``f1``, on one branch (a half turn of
    theta flips psi's sign)."""
    turns = round((f1.theta - f0.theta) / math.pi)
    psi1 = -f1.psi if turns % 2 else f1.psi
    return {"theta": f1.theta - f0.theta - turns * math.pi,
            "psi": _wrap(psi1 - f0.psi, 2 * math.pi),
            "lambda": math.log(f1.lambd / f0.lambd), "sigma": math.log(f1.sigma / f0.sigma),
            "gamma": math.log(f1.gamma / f0.gamma),
            "amplitude": math.log(abs(f1.amplitude / f0.amplitude))
            if f1.amplitude and f0.amplitude else 0.0}


def _near(value: float, target: float) -> bool:
    return abs(value - target) < SLOPE_TOL * max(1.0, abs(target))


def _angle_words(value: float) -> str:
    for k in range(-4, 5):
        if abs(value - k * math.pi / 2) < 1e-4:
            return {0: "0", 1: "pi/2", -1: "-pi/2", 2: "pi", -2: "-pi"}.get(k, f"{k}pi/2")
    return f"{value:.4g}"


def _angle_mapping(name: str, ours: str, value: float, fitted: float, slope: float,
                   period: float) -> ParamMapping:
    offset = _wrap(fitted - slope * value, period)
    if abs(offset + period / 2) < 1e-9:
        offset = period / 2
    words = _angle_words(offset)
    if _near(slope, 1):
        kind = "same" if abs(offset) < 1e-4 else "offset"
        relation = f"{ours} = {name}" + ("" if kind == "same" else f" + {words}")
    elif _near(slope, -1):
        quarter = abs(abs(offset) - math.pi / 2) < 1e-4
        kind = ("opposite" if abs(offset) < 1e-4 else
                "xy-swap" if quarter and ours == "theta" else "offset")
        relation = f"{ours} = " + (f"-{name}" if kind == "opposite" else f"{words} - {name}")
    elif _near(slope, math.pi / 180):
        kind, relation = "degrees", f"{ours} = {name} x pi / 180"
    else:
        kind, relation = "other", f"d {ours} / d {name} = {slope:.4g}"
    return ParamMapping(name, value, ours, fitted, kind, relation, slope=slope,
                        constant=offset)


def _scale_mapping(name: str, ours: str, value: float, fitted: float,
                   exponent: float) -> ParamMapping:
    e = round(exponent) if _near(exponent, round(exponent)) else exponent
    constant = fitted / value**e if value > 0 else math.nan
    if e == 1 and _near(constant, 1):
        kind, relation = "same", f"{ours} = {name}"
    elif e == -1 and ours == "lambda" and _near(constant, 2 * math.pi):
        kind, relation = "angular-frequency", f"lambda = 2 pi / {name}"
    elif e == -1 and ours == "lambda" and _near(constant, 1):
        kind, relation = "frequency", f"lambda = 1 / {name}"
    elif e == 1:
        kind, relation = "factor", f"{ours} = {constant:.6g} x {name}"
    elif e == -1:
        kind, relation = "inverse", f"{ours} = {constant:.6g} / {name}"
    else:
        kind, relation = "power", f"{ours} = {constant:.4g} x {name}^{e:.4g}"
    return ParamMapping(name, value, ours, fitted, kind, relation, exponent=float(e),
                        constant=constant)


_NORMALISATIONS = {
    "1 / (2 pi sigma^2)": lambda f: 1 / (2 * math.pi * f.sigma**2),
    "gamma / (2 pi sigma^2)": lambda f: f.gamma / (2 * math.pi * f.sigma**2),
    "1 / (2 pi sigma^2 gamma)": lambda f: 1 / (2 * math.pi * f.sigma**2 * f.gamma),
    "1 / (sqrt(2 pi) sigma)": lambda f: 1 / (math.sqrt(2 * math.pi) * f.sigma),
}


def _normalisation(fits: list[GaborFit]) -> str | None:
    """The named amplitude every fit has (``None`` for 1 or an unnamed constant)."""
    if all(abs(f.amplitude - 1) < 1e-6 for f in fits):
        return None
    for words, formula in _NORMALISATIONS.items():
        if all(abs(f.amplitude - formula(f)) < 1e-6 * formula(f) for f in fits):
            return words
    return None


def measure_convention(probe: LayerProbe, flow: FlowResult, channel: tuple[int, int],
                       fit: GaborFit | None = None) -> Convention:
    """Fit filter ``channel`` (out, in) and map every small parameter that changes it.

    Coordinate grids and large weight tensors are not mapped (they are not Gabor
    parameters); a parameter shared by several elements is nudged as one value.
    """
    o, i = channel
    kernel = probe.kernel(o, i)
    base = fit or fit_gabor(kernel)
    mappings: list[ParamMapping] = []
    fits = [base]
    if not base.is_gabor:
        return Convention(channel, kernel, base, [], None)
    for p in flow.params:
        if not p.changes_kernel or p.grid is not None or p.numel > 256:
            continue
        elements = probe.elements_of(p.name, o, i)
        if not elements:
            continue
        values = probe.value(p.name).ravel()
        value = float(values[elements[0]])
        step = NUDGE * max(1.0, abs(value))
        moved = []
        for sign in (1, -1):
            with probe.changed({p.name: (elements, value + sign * step)}):
                moved.append(fit_gabor(probe.kernel(o, i), start=base))
        fits.extend(moved)
        label = p.name + (f"[{elements[0]}]" if p.numel > 1 else "")
        if not all(f.is_gabor for f in moved):
            mappings.append(ParamMapping(label, value, None, None, "other",
                                         f"nudging {label} leaves our model's family"))
            continue
        d = _deltas(moved[0], moved[1])
        sensitivity = {q: abs(d[q]) / 2 for q in OURS}
        ours = max(sensitivity, key=sensitivity.__getitem__)
        if sensitivity[ours] < 1e-9:
            mappings.append(ParamMapping(label, value, None, None, "none",
                                         f"{label} changes the kernel's amplitude or centre "
                                         "only"))
            continue
        fitted = base.params()[ours]
        if _SCALES[ours] == "angle":
            mapping = _angle_mapping(label, ours, value, fitted, d[ours] / (2 * step),
                                     base.period if ours == "theta" else 2 * math.pi)
        elif value > 0:
            log_step = math.log((value + step) / (value - step))
            mapping = _scale_mapping(label, ours, value, fitted, d[ours] / log_step)
        else:
            mapping = ParamMapping(label, value, ours, fitted, "other",
                                   f"d ln {ours} / d {label} = {d[ours] / (2 * step):.4g}")
        if value > 0:
            mapping.amplitude_exponent = d["amplitude"] / math.log(
                (value + step) / (value - step))
        mappings.append(mapping)
    return Convention(channel, kernel, base, mappings, _normalisation(fits))
