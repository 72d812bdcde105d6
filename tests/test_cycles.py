"""The measure of an oscillating tail (gabordiag.descent.cycles) on analytic sequences:
a period and a limit cycle only when the sequence has them, a rhythm only when the
tail holds at least two of its cycles."""

from __future__ import annotations

import numpy as np
import pytest

from gabordiag.descent.cycles import LIMIT_CYCLE_RTOL, loss_swing, oscillation


def test_an_exact_two_cycle_is_a_limit_cycle() -> None:
    x = -2.3 + 0.06 * (-1.0) ** np.arange(80)
    o = oscillation(x, first_step=100)
    assert o.period == 2
    assert o.limit_cycle
    assert o.repeat_error == 0.0
    assert o.amplitude == pytest.approx(0.06)
    assert o.phase_slips == []
    assert o.describe().startswith("a limit cycle of period 2")


def test_a_two_cycle_whose_amplitude_grows_is_not_called_a_limit_cycle() -> None:
    steps = np.arange(120)
    x = 1.0 + 0.05 * (1 + steps / 60) * (-1.0) ** steps
    o = oscillation(x, first_step=0)
    assert o.period == 2
    assert not o.limit_cycle
    assert o.repeat_error is not None
    assert o.repeat_error > LIMIT_CYCLE_RTOL
    assert o.amplitude_trend > 1.5
    assert "does not repeat exactly" in o.describe()
    assert "amplitude grows" in o.describe()


def test_a_rhythm_is_named_only_with_two_cycles_in_the_tail() -> None:
    t = np.arange(76, dtype=float)
    drift = np.sin(2 * np.pi * t / 76) + 0.3 * np.sin(2 * np.pi * t / 7.3 + 0.4) ** 3
    assert oscillation(drift, 0).dominant_period is None  # one slow cycle: a drift
    rhythm = np.sin(2 * np.pi * t / 9.3) * (1 + 0.002 * t**1.5)  # no integer period
    o = oscillation(rhythm, 0)
    assert o.period is None
    assert o.dominant_period == pytest.approx(76 / 8)  # the spectrum's bin nearest 9.3
    assert "its strongest rhythm is ~9.5 steps" in o.describe()


def test_a_phase_slip_is_located_at_its_step() -> None:
    x = 0.1 * (-1.0) ** np.arange(60)
    x[40:] *= -1  # the two branches swap at step 40 of the tail
    o = oscillation(x, first_step=1000)
    assert o.period == 2
    assert not o.limit_cycle
    assert o.phase_slips == [1040, 1041]  # x[t + 2] != x[t] for t = 38, 39


def test_a_two_cycle_that_differs_in_its_last_bits_has_period_two() -> None:
    """An exact 2-cycle of a map repeats to rounding; relative to a small swing that is
    more than 1e-15, and a longer period that repeated to the bit was picked (period 10)."""
    x = -0.875 + 0.0471 * (-1.0) ** np.arange(75)
    ulp = np.spacing(x[0])
    x[::2] += ulp * (np.arange(38) % 5)  # last bits that repeat every 10 steps only
    o = oscillation(x, first_step=0)
    assert o.period == 2
    assert o.limit_cycle


@pytest.mark.parametrize(("low", "high", "text"), [
    (0.0898, 4.95, "the loss jumps between 0.0898 and 4.95"),
    (11.2871, 11.3012, "the loss oscillates between 11.29 and 11.3"),
    (2.0, 2.0, "the loss oscillates between 2 and 2"),
])
def test_the_loss_swing_tells_its_ends_apart(low: float, high: float, text: str) -> None:
    assert loss_swing(low, high) == text
