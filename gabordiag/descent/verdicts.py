"""Verdicts: what a run did, decided from the evidence, for one run or thousands at once.

A poor outcome is data, not an exception: every run ends with a kind from
:data:`~gabordiag.config.choices.VERDICTS` (``converged``, ``converged-equivalent``,
``local-minimum``, ``cycling``, ``stalled``, ``diverged``, ``not-converged``).
:func:`judge` decides the kinds of a whole batch with array operations (the figures
that decided them come along); :func:`gabordiag.descent.explain.classify` is the same
judge for one run, with a message and the evidence a reader needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.choices import RECOVERED, VERDICTS
from ..core.problem import KERNEL_RTOL, PARAM_ATOL, Problem
from ..engines.base import Engine
from .runner import Descents

__all__ = ["ANGLES", "DECAY_RTOL", "JUMP_FACTOR", "PLATEAU_RTOL", "SETTLED_XTOL", "Judgement",
           "Verdict", "judge", "loss_jumps", "steps_to_settle"]

Array = NDArray[np.float64]

# Tolerances of the classification (documented in the README).
SETTLED_XTOL = 1e-6     # steps below this (per coordinate) over the last 5 steps: settled
SLOPE_GTOL = 1e-6       # a settled run whose gradient is above this (x the run's largest)
                        # while the loss still falls is crawling, not stalled
SETTLE_TOL = 1e-4       # steps to settle: the run stays within this of its final value
JUMP_FACTOR = 10.0      # a step that changes a scaled parameter by this x its size throws
PLATEAU_RTOL = 1e-3     # kernel sensitivity below this x the target's: a plateau
DECAY_RTOL = 0.5        # step sizes whose geometric trend falls below this over the tail:
                        # a dying oscillation (converging), not a cycle
ANGLES = ("theta", "psi")
_BLOCK_VALUES = 2**18  # values per block of runs copied at once (2 MiB of float64: fresh
                       # memory is slow to touch, and a block this size is reused)


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

    @property
    def started_at_answer(self) -> bool:
        """True when the run started on the target's kernel (and so tests nothing)."""
        return bool(self.evidence.get("started_at_answer"))

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
    step_decay: Array             # moving runs: a geometric fit's change of the step
                                  # sizes over the tail (< DECAY_RTOL with a clear trend:
                                  # the oscillation dies out)
    jump_step: NDArray[np.intp]   # runs thrown away: the step of the first big jump
    jump_param: NDArray[np.intp]  # ... and the coordinate that jumped
    plateau: Array                # runs perhaps on a plateau: the kernel's sensitivity
                                  # there, relative to the target's (the smallest over
                                  # params); below PLATEAU_RTOL they are on one

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

    A run that stopped early (a non-finite value, or one beyond ``BOUND``) or that a
    step threw away (a wavelength, width or aspect changed by more than
    ``JUMP_FACTOR`` times its size, or the target's, in one step) diverged. A run whose
    every coordinate moved less than ``SETTLED_XTOL`` over its last 5 steps settled: on
    the target's kernel (``converged`` at the target's values, else
    ``converged-equivalent``), still crawling downhill (``not-converged``), in a
    minimum that is not the target's (``local-minimum``) or elsewhere (``stalled``).
    A run still moving oscillates (``cycling``: the iterate turns back often and gets
    nowhere, with steps that do not shrink) or not (``not-converged``). A run that is
    neither cycling nor converged, at a wavelength, width or aspect where the kernel
    hardly changes (its sensitivity below ``PLATEAU_RTOL`` of the target's), is
    ``stalled`` on a plateau; so is a settled run that stalled where the kernel hardly
    changes (its ``plateau`` figure says so).
    """
    d = descents
    problem = engine.problem
    n_runs = d.n_runs
    n_steps = d.n_steps
    kinds = np.full(n_runs, "", dtype=object)
    stopped = d.stopped_at >= 0
    kinds[stopped] = "diverged"
    jump_step, jump_param = _jumps(d, problem.target_vector(), ~stopped)
    thrown = jump_step >= 0
    kinds[thrown] = "diverged"
    live = ~stopped & ~thrown
    last = min(5, n_steps) if n_steps else 0
    moves = np.abs(np.diff(d.tail(last + 1), axis=0))  # (last, B, n)
    last_row = d.tail(1)[0]
    settled = live & np.all(moves < SETTLED_XTOL, axis=(0, 2))

    kernel_error = np.full(n_runs, np.nan)
    plateau = np.full(n_runs, np.nan)
    shape: list[str | None] = [None] * n_runs
    undecided: list[int] = []  # crawling or moving steadily: perhaps on a plateau
    index = np.flatnonzero(settled)
    if len(index):
        final = last_row[index]
        kernel_error[index] = problem.kernel_errors(final)
        distance = np.max(np.abs(final - problem.target_vector()), axis=1)
        on_target = kernel_error[index] < KERNEL_RTOL
        kinds[index[on_target & (distance < PARAM_ATOL)]] = "converged"
        kinds[index[on_target & ~(distance < PARAM_ATOL)]] = "converged-equivalent"
        rest = index[~on_target]
        crawling = _crawling(d, rest)
        kinds[rest[crawling]] = "not-converged"
        undecided.extend(rest[crawling].tolist())
        elsewhere = rest[~crawling]
        for b, kind in zip(elsewhere, _local_shapes(engine, last_row[elsewhere]),
                           strict=True):
            shape[b] = kind
            kinds[b] = "local-minimum" if kind == "minimum" else "stalled"
        stuck = np.array([b for b in elsewhere if kinds[b] == "stalled"], dtype=np.intp)
        if len(stuck):  # stalled where the kernel hardly changes: on a plateau
            plateau[stuck] = _sensitivity_ratio(problem, d.params[-1, stuck])

    moving = np.flatnonzero(live & ~settled)
    w = _tail_length(n_steps)
    coordinate = np.full(n_runs, -1, dtype=np.intp)
    turns, net_path, late_early, decay = (np.full(n_runs, np.nan) for _ in range(4))
    tail = d.tail(w + 1)
    for block in _blocks(moving, (w + 1) * n_params(d)):  # run by run: the same figures
        stats = _tail_statistics(tail[:, block])
        (coordinate[block], turns[block], net_path[block], late_early[block],
         decay[block]) = stats[:5]
        cycling = stats[5] & ~stats[6]
        kinds[block] = np.where(cycling, "cycling", "not-converged")
        undecided.extend(block[~cycling].tolist())
    if undecided:
        runs = np.array(sorted(undecided))
        plateau[runs] = _sensitivity_ratio(problem, last_row[runs])
        kinds[runs[plateau[runs] < PLATEAU_RTOL]] = "stalled"
    return Judgement(kinds=[str(k) for k in kinds], settled=settled,
                     kernel_error=kernel_error, shape=shape, coordinate=coordinate,
                     tail_steps=w, turn_fraction=turns, net_over_path=net_path,
                     late_over_early_step=late_early, step_decay=decay, jump_step=jump_step,
                     jump_param=jump_param, plateau=plateau)


def _scaled(problem: Problem) -> NDArray[np.bool_]:
    """The learned parameters with a scale (not the angles theta and psi)."""
    return np.array([name not in ANGLES for name in problem.learn])


def _jumps(d: Descents, target: Array, runs: NDArray[np.bool_]
           ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Per run: the first step at which a scaled parameter changed by more than
    ``JUMP_FACTOR`` times the larger of its size and the target's (-1 for none), and
    which parameter."""
    n_runs = d.n_runs
    step, param = np.full(n_runs, -1, dtype=np.intp), np.full(n_runs, -1, dtype=np.intp)
    scaled = np.flatnonzero(np.array([name not in ANGLES for name in d.names]))
    if len(scaled) == 0 or d.n_steps < 1:
        return step, param
    x = d.stored_params[:, :, scaled]  # a fixed point's repeated rows do not jump
    with np.errstate(invalid="ignore", over="ignore"):
        size = np.maximum(np.abs(x[:-1]), np.abs(target[scaled]))
        ratio = np.abs(np.diff(x, axis=0)) / size  # (T, B, m)
    big = np.nan_to_num(ratio, nan=0.0) >= JUMP_FACTOR
    hit = big.any(axis=2)
    found = runs & hit.any(axis=0)
    first = np.argmax(hit, axis=0)
    step[found] = first[found] + 1
    param[found] = scaled[np.argmax(big[first[found], np.flatnonzero(found)], axis=1)]
    return step, param


def _sensitivity_ratio(problem: Problem, points: Array) -> Array:
    """For each point: the smallest, over the scaled learned parameters, of
    ``|p dK/dp|`` there over the same at the target (``inf`` when none is scaled)."""
    scaled = _scaled(problem)
    if not scaled.any():
        return np.full(len(points), np.inf)
    values = np.vstack([problem.target_vector()[None, :], points])
    _, derivatives = problem.effective_kernels(values)
    out = np.full(len(points), np.inf)
    for j, name in enumerate(problem.learn):
        if not scaled[j]:
            continue
        flat = derivatives[name].reshape(len(values), -1)
        size = np.linalg.norm(flat, axis=1) * np.abs(values[:, j])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(size[0] > 0, size[1:] / size[0], np.inf)
        out = np.minimum(out, ratio)
    return out


def _crawling(d: Descents, runs: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Settled runs whose loss still falls at every one of the last 5 steps while the
    gradient is not negligible: descending by tiny steps, not stuck."""
    out = np.zeros(len(runs), dtype=bool)
    first = 0
    recent_all = d.loss_tail(6)
    grads = d.stored_grads  # a fixed point's repeated rows change neither figure
    for block in _blocks(runs, len(grads) * n_params(d)):  # run by run: the same figures
        recent = recent_all[:, block]
        descending = (len(recent) > 1) & np.all(np.diff(recent, axis=0) < 0, axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            norms = np.linalg.norm(grads[:, block], axis=2)
        largest = np.maximum(1.0, np.nanmax(norms, axis=0))
        out[first:first + len(block)] = descending & (norms[-1] > SLOPE_GTOL * largest)
        first += len(block)
    return out


def n_params(d: Descents) -> int:
    """Learned values per run."""
    return int(d.stored_params.shape[2])


def _blocks(runs: NDArray[np.intp], per_run: int) -> list[NDArray[np.intp]]:
    """``runs`` in consecutive blocks whose copies of ``per_run`` values each stay near
    :data:`_BLOCK_VALUES` (every figure is per run: blocks change nothing but memory)."""
    size = max(1, _BLOCK_VALUES // max(per_run, 1))
    return [runs[i:i + size] for i in range(0, len(runs), size)]


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


def _tail_statistics(tail: Array) -> tuple[NDArray[np.intp], Array, Array, Array, Array,
                                           NDArray[np.bool_], NDArray[np.bool_]]:
    """Per run of a tail ``(w + 1, R, n)``: the coordinate that moves most, the share
    of steps that turn back, net displacement over path length, late over early step
    size, the fitted decay of the step sizes over the tail, whether it oscillates and
    whether its steps shrink (the late half's median under 0.3 of the early half's, or
    a geometric trend that at least halves them over the tail)."""
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
    decay, steady = _step_decay(dx)
    shrinking = (late < 0.3 * early) | ((decay < DECAY_RTOL) & ~steady)
    return j, turns, net_path, late_early, decay, oscillating, shrinking


def _step_decay(dx: Array) -> tuple[Array, NDArray[np.bool_]]:
    """Per run of steps ``(m, R)``: the factor by which a geometric fit of the step sizes
    changes over the ``m`` steps, and whether that fit is indistinguishable from a
    constant (its slope within 3 standard errors of 0: an irregular orbit's step sizes
    scatter without a trend)."""
    m = len(dx)
    if m < 3:
        return np.ones(dx.shape[1]), np.ones(dx.shape[1], dtype=bool)
    size = np.abs(dx)
    floor = 1e-12 * np.maximum(size.max(axis=0), 1e-300)
    logs = np.log(np.maximum(size, floor))
    t = np.arange(m) - (m - 1) / 2
    slope = (t @ (logs - logs.mean(axis=0))) / (t @ t)
    residual = logs - logs.mean(axis=0) - np.outer(t, slope)
    error = np.sqrt((residual**2).sum(axis=0) / (m - 2) / (t @ t))
    return np.exp(slope * m), np.abs(slope) <= 3 * error


def steps_to_settle(values: Array, tol: float = SETTLE_TOL) -> NDArray[np.intp]:
    """First step after which each run stays within ``tol`` of its final value, for
    values ``(T+1,)`` or ``(T+1, B)``."""
    v = np.asarray(values)
    if v.ndim == 2 and v.shape[1] * len(v) > _BLOCK_VALUES:  # run by run, in blocks
        size = max(1, _BLOCK_VALUES // len(v))  # of bounded memory
        return np.concatenate([_steps_to_settle(v[:, i:i + size], tol)
                               for i in range(0, v.shape[1], size)])
    return _steps_to_settle(v, tol)


def _steps_to_settle(v: Array, tol: float) -> NDArray[np.intp]:
    far = np.abs(v - v[-1]) >= tol
    last_far = len(v) - 1 - np.argmax(far[::-1], axis=0)
    return np.where(np.any(far, axis=0), last_far + 1, 0)


def loss_jumps(loss: Array, factor: float = 2.0) -> NDArray[np.intp]:
    """Steps where the loss rose by more than ``factor`` over the step before."""
    finite = np.where(np.isfinite(loss), loss, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.flatnonzero(finite[1:] > factor * np.abs(finite[:-1]) + 1e-300) + 1
