"""The ``[expect]`` schema: what an experiment file says must hold (read by ``check``).

Validated wherever a file is read, so that a typo in an expectation is an error on
every command, not only under ``check``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .choices import VERDICTS

__all__ = ["EXPECT_KEYS", "Expectation", "parse_expectations"]

EXPECT_KEYS = ("verdict", "max_final_error", "max_steps", "period", "min_success_rate",
               "basins_starts", "max_stable_lr_at_least", "max_stable_lr_at_most",
               "n_spurious_minima_at_most")


@dataclass(frozen=True)
class Expectation:
    """One ``[expect]`` entry: its key and the value it must satisfy."""

    key: str
    value: Any


def _number(value: Any, *, low: float = 0.0, integer: bool = False) -> float:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or value < low:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{kind} >= {low:g}")
    return value


def parse_expectations(table: dict[str, Any], where: str) -> list[Expectation]:
    """Validate an ``[expect]`` table; errors name the file and key."""
    out = []
    for key, value in table.items():
        label = f"{where}: [expect] key {key!r}"
        if key not in EXPECT_KEYS:
            raise ConfigError(f"{label} is unknown; allowed keys: {', '.join(EXPECT_KEYS)}")
        try:
            out.append(Expectation(key, _validate(key, value)))
        except ValueError as exc:
            raise ConfigError(f"{label}: invalid value {value!r}; expected {exc}") from None
    if not any(e.key != "basins_starts" for e in out):
        raise ConfigError(f"{where}: [expect] states nothing to check")
    return out


def _validate(key: str, value: Any) -> Any:
    if key == "verdict":
        allowed = value if isinstance(value, list) else [value]
        if not allowed or any(v not in VERDICTS for v in allowed):
            raise ValueError("a verdict or a list of verdicts from " + ", ".join(VERDICTS))
        return allowed
    if key == "period":
        if value not in ("pi", "2pi"):
            raise ValueError('"pi" or "2pi"')
        return value
    if key == "min_success_rate":
        rate = _number(value)
        if rate > 1:
            raise ValueError("a number from 0 to 1")
        return float(rate)
    if key in ("max_steps", "n_spurious_minima_at_most"):
        return int(_number(value, integer=True))
    if key == "basins_starts":
        starts = int(_number(value, low=1, integer=True))
        if starts > 10_000:
            raise ValueError("an integer from 1 to 10000")
        return starts
    return float(_number(value))
