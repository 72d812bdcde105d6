"""The value grammar: how option and config values are read.

Each parser takes a raw value (text from the command line, or a TOML value) and returns
the parsed value, or raises ``ValueError("what is allowed")``; the caller adds the name
of the option or key. The command line and config files share these parsers, so they
accept the same forms (``-pi/4``, ``45deg``, ``1e-3``) and give the same errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .choices import FILE_SUFFIXES, PARAM_NAMES, SYNTHETIC
from .paths import not_a_regular_file

__all__ = ["GAMMA", "LAMBDA", "MAX_ANGLE", "SIGMA", "angle_warning", "boolean", "callable_spec",
           "channel_pair", "choice", "image_source", "integer", "learned_names", "log_range",
           "pair_of_unit_numbers", "parameter_name", "parameter_range", "parse_angle", "real",
           "wavelength_warning"]

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PI_FORM = re.compile(
    rf"^(?P<sign>[-+]?)(?P<num>{_NUMBER})?\s*\*?\s*pi\s*(?:/\s*(?P<den>{_NUMBER}))?$")
_DEG_FORM = re.compile(rf"^(?P<num>[-+]?{_NUMBER})\s*(?:deg|°)$")
_RAD_FORM = re.compile(rf"^(?P<num>[-+]?{_NUMBER})\s*(?:rad)?$")
_ANGLE_HELP = "an angle in radians (0.785, -pi/4, 3*pi/4, 2pi) or degrees (45deg)"
# The largest angle accepted, in radians. float64 resolves 1e6 rad to 1.2e-10 rad, far
# below any tolerance here; by 1.8e16 the spacing of floats is 4 rad and an angle means
# nothing. Descent also calls a value beyond 1e6 run away (gabordiag.descent.runner).
MAX_ANGLE = 1e6


def parse_angle(text: str | float | int) -> float:
    """Parse an angle: radians (``0.785``, ``1.2rad``), multiples of pi (``-pi/4``,
    ``3*pi/4``, ``2pi``) or degrees (``45deg``).

    Examples
    --------
    >>> round(parse_angle("-pi/4"), 6), parse_angle("90deg") == parse_angle("pi/2")
    (-0.785398, True)
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(_ANGLE_HELP)  # TOML lists, tables and dates too
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # an int beyond the float range
            raise ValueError(_ANGLE_HELP + "; it must be finite") from None
    else:
        s = text.strip().lower()
        if m := _PI_FORM.match(s):
            num = float(m["num"]) if m["num"] else 1.0
            den = float(m["den"]) if m["den"] else 1.0
            if den == 0:
                raise ValueError(_ANGLE_HELP + "; the denominator is 0")
            value = (-1 if m["sign"] == "-" else 1) * num * math.pi / den
        elif m := _DEG_FORM.match(s):
            value = math.radians(float(m["num"]))
        elif m := _RAD_FORM.match(s):
            value = float(m["num"])
        else:
            raise ValueError(_ANGLE_HELP)
    if not math.isfinite(value):
        raise ValueError(_ANGLE_HELP + "; it must be finite")
    if abs(value) > MAX_ANGLE:
        raise ValueError(f"{_ANGLE_HELP} of at most {MAX_ANGLE:g} rad in size (float64 "
                         "cannot resolve a larger angle)")
    return value


def angle_warning(value: Any, parsed: float) -> str | None:
    """A warning for a bare number beyond a full turn (``45`` is 45 rad, not 45 degrees),
    or ``None``: the value is taken as given, and the words say what a typo looks like.

    Examples
    --------
    >>> angle_warning("45", 45.0)
    '45 is read as 45 rad (2578.31 deg); if you meant degrees, write 45deg'
    >>> angle_warning("45deg", 0.785) is None, angle_warning("3*pi", 9.42) is None
    (True, True)
    """
    if abs(parsed) <= 2 * math.pi:
        return None
    bare = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and re.fullmatch(rf"[-+]?{_NUMBER}", value.strip().lower()))
    if not bare:
        return None
    shown = str(value).strip()
    return (f"{shown} is read as {parsed:g} rad ({math.degrees(parsed):.6g} deg); if you "
            f"meant degrees, write {shown}deg")


def wavelength_warning(parsed: float) -> str | None:
    """A warning for a carrier wavelength below 2 pixels, or ``None``.

    Sampled at whole pixels, the wave ``cos(2 pi (f . x) + psi)`` with ``f = (cos theta,
    sin theta) / lambda`` cannot be told from the one at ``f - k`` for any whole ``k``:
    a component of ``f`` beyond half a cycle per pixel aliases. That happens for some
    orientation once ``lambda < 2``, and for every one once ``lambda < sqrt 2``.

    Examples
    --------
    >>> wavelength_warning(1.5)[:60]
    '1.5 pixels is below 2, the shortest wavelength a pixel grid '
    >>> wavelength_warning(2.0) is None, wavelength_warning(math.inf) is None
    (True, True)
    """
    if not math.isfinite(parsed) or parsed >= 2:
        return None
    if parsed < math.sqrt(2):
        where = "at every orientation"
    else:
        where = (f"at orientations within {math.degrees(math.acos(parsed / 2)):.3g} deg of "
                 "the image axes")
    return (f"{parsed:g} pixels is below 2, the shortest wavelength a pixel grid holds along "
            f"its axes: {where} the sampled carrier aliases (its samples there are those of "
            "a longer wave)")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number")
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError("a number") from None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range
            raise ValueError("a number") from None
    raise ValueError("a number")


def real(low: float | None = None, *, low_open: bool = True, high: float | None = None,
          high_open: bool = False, allow_inf: bool = False) -> Callable[[Any], float]:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = "a number" + (" " + " and ".join(parts) if parts else "") + (
        " (or inf)" if allow_inf else "")

    def parse(value: Any) -> float:
        try:
            x = _number(value)
        except ValueError:
            raise ValueError(what) from None
        if allow_inf and x == math.inf:
            return x
        bad = (math.isnan(x) or math.isinf(x)
               or (low is not None and (x <= low if low_open else x < low))
               or (high is not None and (x >= high if high_open else x > high)))
        if bad:
            raise ValueError(what)
        return x
    return parse


def integer(low: int, high: int, *, odd: bool = False) -> Callable[[Any], int]:
    what = f"{'an odd' if odd else 'an'} integer from {low} to {high}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(what)
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"[-+]?\d+", value):
                raise ValueError(what)
            try:
                value = int(value)
            except ValueError:  # more digits than int() converts
                raise ValueError(what) from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high or (odd and value % 2 == 0):
            raise ValueError(what)
        return value
    return parse


def choice(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise ValueError("one of " + ", ".join(allowed))
        return value.strip().lower()
    return parse


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ValueError("true or false")


def channel_pair(text: str) -> tuple[int, int]:
    """``--channel OUT,IN``: one filter of a layer, as two integers >= 0.

    >>> channel_pair("0,2")
    (0, 2)
    """
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--channel: invalid value {text!r}; expected OUT,IN (two "
                          "integers >= 0, e.g. 0,0)")
    return int(parts[0]), int(parts[1])


def image_source(value: Any) -> str:
    allowed = f"{', '.join(SYNTHETIC)} or a path to a {', '.join(FILE_SUFFIXES)} file"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(allowed)
    text = value.strip()
    if text.lower() in SYNTHETIC:
        return text.lower()
    path = Path(text)
    words = not_a_regular_file(path)
    if path.suffix.lower() not in FILE_SUFFIXES:
        shown = f"; {text} {words}" if words and not words.startswith("does not") else ""
        raise ValueError(allowed + shown)
    if words is not None:
        raise ValueError(f"{allowed}; {text} {words}")
    return text


def learned_names(value: Any) -> tuple[str, ...]:
    what = "a non-empty list of distinct names from " + ", ".join(PARAM_NAMES)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(what)
    names: list[str] = []
    for item in items:
        if isinstance(item, str) and "," in item:
            names.extend(learned_names(item))
            continue
        if not isinstance(item, str) or item.strip().lower() not in PARAM_NAMES:
            raise ValueError(what)
        names.append(item.strip().lower())
    if len(set(names)) != len(names):
        raise ValueError(what)
    # canonical order, so that a run does not depend on how the user listed them
    return tuple(name for name in PARAM_NAMES if name in names)


def pair_of_unit_numbers(value: Any) -> tuple[float, float]:
    what = "two numbers in [0, 1), e.g. 0.9,0.999"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or len(items) != 2:
        raise ValueError(what)
    unit = real(0.0, low_open=False, high=1.0, high_open=True)
    try:
        return unit(items[0]), unit(items[1])
    except ValueError:
        raise ValueError(what) from None


def callable_spec(value: Any) -> str:
    what = "module:function or path/to/file.py:function"
    if not isinstance(value, str):
        raise ValueError(what)
    module, sep, name = value.strip().rpartition(":")
    if not sep or not module or not name.isidentifier():
        raise ValueError(what)
    return value.strip()


# Kernel parameters (pixels): outside these the kernel under- or overflows on a grid of
# at most 255 pixels, or is a single pixel or a constant in all but name.
SIGMA = real(1e-3, low_open=False, high=1e4)
LAMBDA = real(1e-3, low_open=False, high=1e6, allow_inf=True)
GAMMA = real(1e-3, low_open=False, high=1e3)


def parameter_name(value: Any) -> str:
    """One of the five kernel parameters (``theta``, ``lambda``, ...)."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in PARAM_NAMES:
        raise ValueError("one of " + ", ".join(PARAM_NAMES))
    return name


_OWN_RANGE = {"sigma": SIGMA, "lambda": LAMBDA, "gamma": GAMMA}


def parameter_range(param: str) -> Callable[[Any], tuple[float, float]]:
    """``LOW,HIGH`` for ``param``: angles for theta and psi; for the others, values the
    parameter's own option accepts, so that the kernel stays finite."""
    what = "LOW,HIGH with LOW < HIGH, e.g. -pi/2,pi/2 or 5,20"

    def parse(value: Any) -> tuple[float, float]:
        parts = value.split(",") if isinstance(value, str) else []
        if len(parts) != 2:
            raise ValueError(what)
        own = _OWN_RANGE.get(param)
        if own is None:  # an angle: theta or psi
            low, high = parse_angle(parts[0]), parse_angle(parts[1])
        else:
            try:
                low, high = own(parts[0]), own(parts[1])
            except ValueError as exc:
                raise ValueError(f"values that --{param} accepts ({exc})") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(what)
        return low, high
    return parse


def log_range(value: Any) -> list[float]:
    """``LOW,HIGH,N``: N values evenly spaced on a log scale, ``0 < LOW < HIGH``."""
    what = "LOW,HIGH,N with 0 < LOW < HIGH and 2 <= N <= 50, e.g. 1e-4,1e-2,5"
    parts = value.split(",") if isinstance(value, str) else []
    try:
        if len(parts) != 3:
            raise ValueError
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if not (0 < low < high and math.isfinite(high) and 2 <= n <= 50):
            raise ValueError
    except ValueError:
        raise ValueError(what) from None
    import numpy as np  # only the commands that take a range pay for it

    return [float(v) for v in np.geomspace(low, high, n)]
