"""What an oscillating run does, measured: period, whether the orbit repeats, its
amplitude and how it drifts, and where the pattern breaks (phase slips).

A *limit cycle of period k* is claimed only when ``x[t + k]`` equals ``x[t]`` over the
whole tail to within :data:`LIMIT_CYCLE_RTOL` of the swing; otherwise the oscillation
is described as it is seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = ["LIMIT_CYCLE_RTOL", "PERIOD_MAX", "PERIOD_RTOL", "Oscillation", "loss_swing",
           "oscillation"]

Array = NDArray[np.float64]

PERIOD_MAX = 32         # longest period looked for
PERIOD_RTOL = 0.05      # a period fits when median |x[t+k] - x[t]| is below this x the swing
LIMIT_CYCLE_RTOL = 1e-3  # ... and repeats when the largest one is below this x the swing
SLIP_RTOL = 0.25        # a step where |x[t+k] - x[t]| exceeds this x the swing breaks it


@dataclass
class Oscillation:
    """The tail of one coordinate of a run, measured.

    Attributes
    ----------
    period : int or None
        The smallest period that fits (median repeat error below ``PERIOD_RTOL`` of
        the swing), ``None`` when none up to ``PERIOD_MAX`` does.
    limit_cycle : bool
        Whether the orbit repeats with that period to ``LIMIT_CYCLE_RTOL``.
    repeat_error : float or None
        The largest ``|x[t + period] - x[t]|`` over the tail, relative to the swing.
    dominant_period : float or None
        The period of the strongest frequency of the tail (steps).
    amplitude : float
        Half the range over the last period (or the tail when none fits).
    amplitude_range : (float, float)
        The smallest and largest half-range over windows of one period along the tail.
    amplitude_trend : float
        Mean amplitude over the last third of the tail over the first third.
    centre_range : (float, float)
        The smallest and largest mean over windows of one period: where the orbit sits.
    phase_slips : list of int
        Steps (of the whole run) where the repetition breaks.
    tail_steps : int
        The steps measured.
    """

    period: int | None
    limit_cycle: bool
    repeat_error: float | None
    dominant_period: float | None
    amplitude: float
    amplitude_range: tuple[float, float]
    amplitude_trend: float
    centre: float
    centre_range: tuple[float, float]
    tail_steps: int
    phase_slips: list[int] = field(default_factory=list)

    def to_evidence(self) -> dict[str, Any]:
        """Plain values for a verdict's evidence."""
        return {"period": self.period, "limit_cycle": self.limit_cycle,
                "repeat_error": self.repeat_error, "dominant_period": self.dominant_period,
                "amplitude": self.amplitude, "amplitude_range": list(self.amplitude_range),
                "amplitude_trend": self.amplitude_trend, "centre": self.centre,
                "centre_range": list(self.centre_range), "phase_slips": self.phase_slips}

    @classmethod
    def from_evidence(cls, evidence: dict[str, Any]) -> Oscillation:
        """The measure back from a verdict's evidence (:meth:`to_evidence` and its
        ``tail_steps``)."""
        low, high = evidence["amplitude_range"]
        first, last = evidence["centre_range"]
        return cls(period=evidence["period"], limit_cycle=evidence["limit_cycle"],
                   repeat_error=evidence["repeat_error"],
                   dominant_period=evidence["dominant_period"], amplitude=evidence["amplitude"],
                   amplitude_range=(float(low), float(high)),
                   amplitude_trend=evidence["amplitude_trend"], centre=evidence["centre"],
                   centre_range=(float(first), float(last)),
                   tail_steps=evidence["tail_steps"], phase_slips=list(evidence["phase_slips"]))

    def describe(self, unit: str = "rad") -> str:
        """The oscillation in words: what the run shows, never more."""
        low, high = self.amplitude_range
        if self.period is not None and self.limit_cycle:
            repeats = ("it repeats exactly" if not self.repeat_error else
                       f"it repeats to within {self.repeat_error:.1g} of its swing")
            return (f"a limit cycle of period {self.period} ({repeats}) with amplitude "
                    f"{self.amplitude:.3g} {unit}")
        if self.period is not None:
            what = f"a period-{self.period} oscillation that does not repeat exactly"
        elif self.dominant_period is not None:
            what = (f"an irregular oscillation (no period up to {PERIOD_MAX} steps fits; "
                    f"its strongest rhythm is ~{self.dominant_period:.1f} steps)")
        else:
            what = "an irregular oscillation"
        if self.amplitude_trend > 1.5:
            drift = f"its amplitude grows from {low:.3g} to {high:.3g} {unit}"
        elif self.amplitude_trend < 1 / 1.5:
            drift = f"its amplitude shrinks from {high:.3g} to {low:.3g} {unit}"
        elif high > 1.1 * low:
            drift = f"its amplitude drifts between {low:.3g} and {high:.3g} {unit}"
        else:
            drift = f"amplitude {self.amplitude:.3g} {unit}"
        first, last = self.centre_range
        if last - first > 0.2 * max(self.amplitude, 1e-300):
            drift += f", its centre wandering over {first:.4g} .. {last:.4g}"
        slips = ""
        if self.phase_slips:
            shown = ", ".join(str(s) for s in self.phase_slips[:5])
            more = len(self.phase_slips) - 5
            slips = (f", with phase slips at step{'s' if len(self.phase_slips) > 1 else ''} "
                     f"{shown}" + (f" and {more} more" if more > 0 else ""))
        return f"{what} over the last {self.tail_steps} steps: {drift}{slips}"


def loss_swing(low: float, high: float) -> str:
    """``the loss jumps between 0.0898 and 4.95`` (it at least doubles), else ``the loss
    oscillates between 11.27 and 11.35``: with the digits it takes to tell them apart."""
    verb = "jumps" if high >= 2 * low else "oscillates"
    for digits in range(3, 10):
        a, b = f"{low:.{digits}g}", f"{high:.{digits}g}"
        if a != b or low == high:
            break
    return f"the loss {verb} between {a} and {b}"


def oscillation(x: Array, first_step: int) -> Oscillation:
    """Measure the oscillation of a run's tail ``x`` (whose first entry is step
    ``first_step`` of the run)."""
    swing = float(x.max() - x.min())
    centre = float(x.mean())
    period, repeat = _period(x, swing)
    windows = period or _window(x)
    amplitudes = _amplitudes(x, windows)
    centres = sliding_window_view(x, max(1, min(windows, len(x)))).mean(axis=1)
    points = x[-period:] if period else x
    third = max(1, len(amplitudes) // 3)
    early, late = float(np.mean(amplitudes[:third])), float(np.mean(amplitudes[-third:]))
    slips: list[int] = []
    if period is not None and swing > 0:
        broken = np.abs(x[period:] - x[:-period]) > SLIP_RTOL * swing
        slips = [int(first_step + period + i) for i in np.flatnonzero(broken)]
    return Oscillation(
        period=period,
        limit_cycle=period is not None and repeat is not None and repeat <= LIMIT_CYCLE_RTOL,
        repeat_error=repeat, dominant_period=_dominant_period(x),
        amplitude=float((points.max() - points.min()) / 2),
        amplitude_range=(float(amplitudes.min()), float(amplitudes.max())),
        amplitude_trend=late / early if early > 0 else 1.0, centre=centre,
        centre_range=(float(centres.min()), float(centres.max())), tail_steps=len(x) - 1,
        phase_slips=slips)


def _period(x: Array, swing: float) -> tuple[int | None, float | None]:
    """The smallest period whose median repeat error is within 25% of the best one and
    below ``PERIOD_RTOL`` of the swing (harmonics of the period fit as well: the
    smallest is the period); and its largest repeat error, relative to the swing."""
    if swing == 0:
        return None, None
    errors = {k: float(np.median(np.abs(x[k:] - x[:-k]))) / swing
              for k in range(2, PERIOD_MAX + 1) if len(x) > 2 * k}
    if not errors:
        return None, None
    best = min(errors.values())
    if best >= PERIOD_RTOL:
        return None, None
    # rounding: an orbit that repeats exactly still differs in its last bits, which
    # relative to a small swing is more than 1e-15 (an exact 2-cycle read as period 10)
    noise = 64 * np.finfo(float).eps * float(np.max(np.abs(x))) / swing
    k = min(k for k, e in errors.items() if e <= 1.25 * best + noise)
    return k, float(np.max(np.abs(x[k:] - x[:-k]))) / swing


def _dominant_period(x: Array) -> float | None:
    """The period (steps) of the largest peak of the tail's spectrum: ``None`` when the
    tail is too short or constant, or when the peak is slower than two cycles over the
    tail (a drift, not a rhythm the tail can show)."""
    if len(x) < 8 or float(np.ptp(x)) == 0:
        return None
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    spectrum[0] = 0.0
    peak = int(np.argmax(spectrum))
    return len(x) / peak if peak >= 2 else None


def _window(x: Array) -> int:
    """A window for amplitudes when no period fits: the dominant period, at least 2."""
    dominant = _dominant_period(x)
    return max(2, min(len(x) // 2, round(dominant))) if dominant else max(2, len(x) // 4)


def _amplitudes(x: Array, window: int) -> Array:
    """Half the range of every window of ``window`` consecutive steps."""
    width = max(1, min(window, len(x)))
    views = sliding_window_view(x, width)
    return (views.max(axis=1) - views.min(axis=1)) / 2
