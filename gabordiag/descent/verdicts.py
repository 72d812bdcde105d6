"""Verdicts: what a run did, decided from the evidence, for one run or thousands at once.

A poor outcome is data, not an exception: every run ends with a kind from
:data:`~gabordiag.config.choices.VERDICTS` (``converged``, ``converged-equivalent``,
``local-minimum``, ``cycling``, ``stalled``, ``diverged``, ``not-converged``).
:func:`judge` decides the kinds of a whole batch with array operations (the figures
that decided them come along); :func:`classify` is the same judge for one run, with a
message and the evidence a reader needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.choices import RECOVERED, VERDICTS
from ..core.problem import KERNEL_RTOL, PARAM_ATOL
from ..core.scalar import golden_minimum
from ..engines.base import Engine
from .runner import BOUND, Descents, Trajectory

__all__ = ["PERIOD_MAX", "Judgement", "Verdict", "classify", "judge", "loss_jumps",
           "steps_to_settle"]

Array = NDArray[np.float64]

# Tolerances of the classification (documented in the README).
SETTLED_XTOL = 1e-6     # steps below this (per coordinate) over the last 5 steps: settled
SLOPE_GTOL = 1e-6       # a settled run whose gradient is above this (x the run's largest)
                        # while the loss still falls is crawling, not stalled
PERIOD_MAX = 32         # longest cycle period looked for
PERIOD_RTOL = 0.05      # |x[t+k] - x[t]| (median) below this fraction of the swing
SETTLE_TOL = 1e-4       # steps to settle: the run stays within this of its final value


@dataclass
class Verdict:
    """What a run did: ``kind`` (one of :data:`VERDICTS`), a one-paragraph ``message``
    and the ``evidence`` (plain numbers) that decided it."""

    kind: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def recovered(self) -> bool:
        """True when the run settled on the target's kernel."""
        return self.kind in RECOVERED

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, for JSON."""
        return {"kind": self.kind, "message": self.message, "evidence": _plain(self.evidence)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Judgement:
    """The kind of every run of a batch and the figures that decided it (NaN or -1
    where a figure does not apply to a run)."""

    kinds: list[str]
    settled: NDArray[np.bool_]
    kernel_error: Array         # settled runs
    shape: list[str | None]     # settled runs that are neither recovered nor crawling
    coordinate: NDArray[np.intp]  # moving runs: the coordinate that moves most
    tail_steps: int
    turn_fraction: Array
    net_over_path: Array
    late_over_early_step: Array

    def recovered(self) -> NDArray[np.bool_]:
        """Runs that settled on the target's kernel."""
        return np.isin(np.array(self.kinds), RECOVERED)

    def fractions(self) -> dict[str, float]:
        """Share of runs per verdict kind."""
        n = len(self.kinds)
        return {kind: self.kinds.count(kind) / n for kind in VERDICTS}


def _tail_length(n_steps: int) -> int:
    return max(10, min(n_steps // 4, 200))


def judge(descents: Descents, engine: Engine) -> Judgement:
    """Decide what every run of a batch did.

    A run that stopped early diverged. A run whose every coordinate moved less than
    ``SETTLED_XTOL`` over its last 5 steps settled: on the target's kernel
    (``converged`` at the target's values, else ``converged-equivalent``), still
    crawling downhill (``not-converged``), in a minimum that is not the target's
    (``local-minimum``) or elsewhere (``stalled``). A run still moving oscillates
    (``cycling``: the iterate turns back often and gets nowhere, with steps that do
    not shrink) or not (``not-converged``).
    """
    d = descents
    problem = engine.problem
    n_runs = d.n_runs
    n_steps = len(d.loss) - 1
    kinds = np.full(n_runs, "", dtype=object)
    stopped = d.stopped_at >= 0
    kinds[stopped] = "diverged"
    live = ~stopped
    last = min(5, n_steps) if n_steps else 0
    moves = np.abs(np.diff(d.params[n_steps - last:], axis=0))  # (last, B, n)
    settled = live & np.all(moves < SETTLED_XTOL, axis=(0, 2))

    kernel_error = np.full(n_runs, np.nan)
    shape: list[str | None] = [None] * n_runs
    index = np.flatnonzero(settled)
    if len(index):
        final = d.params[-1, index]
        kernel_error[index] = problem.kernel_errors(final)
        distance = np.max(np.abs(final - problem.target_vector()), axis=1)
        on_target = kernel_error[index] < KERNEL_RTOL
        kinds[index[on_target & (distance < PARAM_ATOL)]] = "converged"
        kinds[index[on_target & ~(distance < PARAM_ATOL)]] = "converged-equivalent"
        rest = index[~on_target]
        crawling = _crawling(d, rest)
        kinds[rest[crawling]] = "not-converged"
        elsewhere = rest[~crawling]
        for b, kind in zip(elsewhere, _local_shapes(engine, d.params[-1, elsewhere]),
                           strict=True):
            shape[b] = kind
            kinds[b] = "local-minimum" if kind == "minimum" else "stalled"

    moving = np.flatnonzero(live & ~settled)
    w = _tail_length(n_steps)
    coordinate = np.full(n_runs, -1, dtype=np.intp)
    turns, net_path, late_early = (np.full(n_runs, np.nan) for _ in range(3))
    if len(moving):
        stats = _tail_statistics(d.params[-(w + 1):, moving])
        coordinate[moving], turns[moving], net_path[moving], late_early[moving] = stats[:4]
        oscillating, shrinking = stats[4], stats[5]
        kinds[moving] = np.where(oscillating & ~shrinking, "cycling", "not-converged")
    return Judgement(kinds=[str(k) for k in kinds], settled=settled,
                     kernel_error=kernel_error, shape=shape, coordinate=coordinate,
                     tail_steps=w, turn_fraction=turns, net_over_path=net_path,
                     late_over_early_step=late_early)


def _crawling(d: Descents, runs: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Settled runs whose loss still falls at every one of the last 5 steps while the
    gradient is not negligible: descending by tiny steps, not stuck."""
    if len(runs) == 0:
        return np.zeros(0, dtype=bool)
    recent = d.loss[-6:, runs]
    descending = (len(recent) > 1) & np.all(np.diff(recent, axis=0) < 0, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.linalg.norm(d.grads[:, runs], axis=2)
    largest = np.maximum(1.0, np.nanmax(norms, axis=0))
    return descending & (norms[-1] > SLOPE_GTOL * largest)


def _local_shapes(engine: Engine, points: Array) -> list[str]:
    """``minimum``, ``maximum``, ``saddle``, ``slope`` or ``plateau`` from the loss
    around each point ``(R, n)``, one batched evaluation for all."""
    if len(points) == 0:
        return []
    runs, n = points.shape
    h = 1e-4 * (1 + np.abs(points))
    probes = np.repeat(points[:, None, :], 1 + 2 * n, axis=1)  # [centre, +e0, -e0, ...]
    for j in range(n):
        probes[:, 1 + 2 * j, j] += h[:, j]
        probes[:, 2 + 2 * j, j] -= h[:, j]
    values = engine.loss(probes.reshape(-1, n)).reshape(runs, 1 + 2 * n)
    centre, around = values[:, :1], values[:, 1:]
    scale = 1e-12 * np.maximum(1.0, np.abs(centre))
    up = around > centre + scale
    down = around < centre - scale
    flat = np.all(np.abs(around - centre) <= scale, axis=1)
    not_below = np.all(around >= centre - scale, axis=1)
    not_above = np.all(around <= centre + scale, axis=1)
    one_sided = (np.all(up[:, 0::2] != up[:, 1::2], axis=1)
                 & np.all(down[:, 0::2] != down[:, 1::2], axis=1))
    shapes = np.where(not_below, np.where(flat, "plateau", "minimum"),
                      np.where(not_above, "maximum", np.where(one_sided, "slope", "saddle")))
    return [str(s) for s in shapes]


def _tail_statistics(tail: Array) -> tuple[NDArray[np.intp], Array, Array, Array,
                                           NDArray[np.bool_], NDArray[np.bool_]]:
    """Per run of a tail ``(w + 1, R, n)``: the coordinate that moves most, the share
    of steps that turn back, net displacement over path length, late over early step
    size, whether it oscillates and whether its steps shrink."""
    deltas = np.diff(tail, axis=0)
    j = np.argmax(np.abs(deltas).sum(axis=0), axis=1)
    runs = np.arange(tail.shape[1])
    x = tail[:, runs, j]
    dx = deltas[:, runs, j]
    path = np.abs(dx).sum(axis=0)
    net = np.abs(x[-1] - x[0])
    if len(dx) > 1:
        turns = np.mean(np.sign(dx[1:]) != np.sign(dx[:-1]), axis=0)
    else:
        turns = np.zeros(len(runs))
    half = len(dx) // 2
    # (a single step is both the early and the late half)
    early = np.median(np.abs(dx[:max(half, 1)]), axis=0)
    late = np.median(np.abs(dx[half:]), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        net_path = np.where(path > 0, net / path, 0.0)
        late_early = np.where(early > 0, late / early, 0.0)
    oscillating = (turns >= 0.05) & (net < 0.5 * path)
    shrinking = late < 0.3 * early
    return j, turns, net_path, late_early, oscillating, shrinking


def steps_to_settle(values: Array, tol: float = SETTLE_TOL) -> NDArray[np.intp]:
    """First step after which each run stays within ``tol`` of its final value, for
    values ``(T+1,)`` or ``(T+1, B)``."""
    v = np.asarray(values)
    far = np.abs(v - v[-1]) >= tol
    last_far = len(v) - 1 - np.argmax(far[::-1], axis=0)
    return np.where(np.any(far, axis=0), last_far + 1, 0)


def loss_jumps(loss: Array, factor: float = 2.0) -> NDArray[np.intp]:
    """Steps where the loss rose by more than ``factor`` over the step before."""
    finite = np.where(np.isfinite(loss), loss, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.flatnonzero(finite[1:] > factor * np.abs(finite[:-1]) + 1e-300) + 1


# -- one run: the verdict with its message and evidence ----------------------------------

def classify(trajectory: Trajectory, engine: Engine) -> Verdict:
    """Decide what a run did (:func:`judge` on a batch of one), with the evidence.

    Parameters
    ----------
    trajectory : Trajectory
        The run.
    engine : Engine
        Evaluates the loss near the end of the run (to tell a minimum from a maximum,
        and to find the minimum a cycle surrounds).
    """
    verdict = judge(trajectory.as_descents(), engine)
    kind = verdict.kinds[0]
    if kind == "diverged":
        return _diverged(trajectory)
    if verdict.settled[0]:
        return _settled(trajectory, engine, kind, float(verdict.kernel_error[0]),
                        verdict.shape[0])
    return _moving(trajectory, engine, kind, verdict)


def _describe(names: tuple[str, ...], values: Array) -> str:
    return ", ".join(f"{n} = {v:.4f}" for n, v in zip(names, values))


def _diverged(t: Trajectory) -> Verdict:
    step = t.stopped_at
    assert step is not None
    row = t.params[step]
    what = ("a parameter left [-1e6, 1e6]" if np.all(np.isfinite(row))
            and np.any(np.abs(row) > BOUND) else "the loss, gradient or a parameter became "
            "NaN or infinite")
    return Verdict("diverged", f"Diverged at step {step}: {what}.",
                   {"step": step, "last_finite_loss": _last_finite(t.loss[:step + 1])})


def _last_finite(values: Array) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else None


def _settled(t: Trajectory, engine: Engine, kind: str, kerr: float,
             shape: str | None) -> Verdict:
    problem = engine.problem
    final = t.params[-1]
    grad_norm = float(np.linalg.norm(t.grads[-1]))
    evidence: dict[str, Any] = {"final": dict(zip(t.names, map(float, final))),
                                "final_loss": float(t.loss[-1]), "final_grad_norm": grad_norm,
                                "kernel_error": kerr}
    if kind == "converged":
        return Verdict(kind, f"Converged to the target (kernel error {kerr:.1e}).", evidence)
    if kind == "converged-equivalent":
        offset = final - problem.target_vector()
        evidence["offset_from_target"] = dict(zip(t.names, map(float, offset)))
        return Verdict(kind,
                       "Converged to parameters that give the target's kernel "
                       f"({_describe(t.names, final)}{_multiples_of_pi(t.names, offset)}; "
                       f"kernel error {kerr:.1e}): the optimum, at an angle equivalent to "
                       "the target.", evidence)
    if kind == "not-converged":
        step = float(t.step_sizes()[-1])
        evidence["final_step"] = step
        return Verdict(kind,
                       f"Still descending, by tiny steps ({step:.2e} per update, gradient norm "
                       f"{grad_norm:.3g} at {_describe(t.names, final)}): the learning rate is "
                       "too small to get anywhere in this many steps.", evidence)
    evidence["shape"] = shape
    if kind == "local-minimum":
        return Verdict(kind,
                       f"Settled in a local minimum that is not the target's "
                       f"({_describe(t.names, final)}, loss {t.loss[-1]:.4g}; kernel error "
                       f"{kerr:.2f}).", evidence)
    return Verdict(kind,
                   f"Stalled at a {shape} ({_describe(t.names, final)}, loss {t.loss[-1]:.4g}, "
                   f"gradient norm {grad_norm:.2e}): the updates vanished where the loss is "
                   "not minimal.", evidence)


def _multiples_of_pi(names: tuple[str, ...], offset: Array) -> str:
    """`` = target - 1 pi`` for theta when the offset is a multiple of pi."""
    if "theta" not in names:
        return ""
    k = offset[names.index("theta")] / np.pi
    if abs(k - round(k)) > 1e-3 or round(k) == 0:
        return ""
    return f" = target {'+' if k > 0 else '-'} {abs(round(k))} pi"


def _moving(t: Trajectory, engine: Engine, kind: str, verdict: Judgement) -> Verdict:
    w = verdict.tail_steps
    j = int(verdict.coordinate[0])
    x = t.params[-(w + 1):, j]
    evidence: dict[str, Any] = {
        "tail_steps": w, "coordinate": t.names[j],
        "turn_fraction": float(verdict.turn_fraction[0]),
        "net_over_path": float(verdict.net_over_path[0]),
        "late_over_early_step": float(verdict.late_over_early_step[0]),
        "tail_loss_min": float(t.loss[-(w + 1):].min()),
        "tail_loss_max": float(t.loss[-(w + 1):].max()),
        "loss_jumps": len(loss_jumps(t.loss)),
    }
    if kind == "not-converged":
        oscillating = (evidence["turn_fraction"] >= 0.05
                       and evidence["net_over_path"] < 0.5)
        what = "oscillating with shrinking steps" if oscillating else "moving steadily"
        evidence["final_step"] = float(t.step_sizes()[-1])
        return Verdict(kind,
                       f"Still {what} when the steps ran out (last step "
                       f"{evidence['final_step']:.2e}, {_describe(t.names, t.params[-1])}); "
                       "more steps may settle it.", evidence)
    period = _period(x)
    points = x[-period:] if period else x
    amplitude = float((points.max() - points.min()) / 2)
    centre = float(points.mean())
    if t.names[j] == "theta" and np.ptp(x) > engine.problem.theta_period / 2:
        evidence.update({"period": period, "amplitude": amplitude, "centre": centre,
                         "across_basins": True})
        return Verdict("cycling",
                       f"Cycling across basins: the iterate is thrown over more than half "
                       f"the period (amplitude {amplitude:.3g} rad); the loss jumps between "
                       f"{evidence['tail_loss_min']:.3g} and {evidence['tail_loss_max']:.3g} "
                       "and no minimum holds it.", evidence)
    minimum = _surrounded_minimum(engine, t.params[-1], j, float(x.min()), float(x.max()))
    evidence.update({"period": period, "amplitude": amplitude, "centre": centre,
                     "across_basins": False, **minimum})
    cycle = f"a limit cycle of period {period}" if period else "an irregular bounded oscillation"
    around = (f"around the minimum at {t.names[j]} = {minimum['minimum']:.4f}"
              + (" (the target)" if minimum["minimum_is_exact_target"] else
                 " (equivalent to the target)" if minimum["minimum_is_target"] else
                 " (not the target's)"))
    message = (f"Cycling: {cycle} with amplitude {amplitude:.3g} {around}; the loss jumps "
               f"between {evidence['tail_loss_min']:.3g} and {evidence['tail_loss_max']:.3g} "
               "and never settles.")
    return Verdict("cycling", message, evidence)


def _period(x: Array) -> int | None:
    swing = float(x.max() - x.min())
    if swing == 0:
        return None
    for k in range(2, PERIOD_MAX + 1):
        if len(x) > 2 * k and np.median(np.abs(x[k:] - x[:-k])) < PERIOD_RTOL * swing:
            return k
    return None


def _surrounded_minimum(engine: Engine, final: Array, j: int, low: float,
                        high: float) -> dict[str, Any]:
    """The lowest loss along coordinate ``j`` over the cycle's span."""
    grid = np.linspace(low, high, 257)
    probes = np.repeat(final[None, :], len(grid), axis=0)
    probes[:, j] = grid
    values = engine.loss(probes)
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best, best_value = grid[i], float(values[i])
    if hi > lo:
        def along(v: float) -> float:
            p = final.copy()
            p[j] = v
            return float(engine.loss(p[None, :])[0])

        x, fx = golden_minimum(along, float(lo), float(hi), xtol=1e-10)
        if fx <= best_value:
            best, best_value = x, fx
    point = final.copy()
    point[j] = best
    problem = engine.problem
    equivalent = bool(problem.gives_target_kernel(point[None, :])[0])
    exact = equivalent and float(np.max(np.abs(point - problem.target_vector()))) < PARAM_ATOL
    return {"minimum": float(best), "minimum_loss": best_value,
            "minimum_is_target": equivalent, "minimum_is_exact_target": exact}
