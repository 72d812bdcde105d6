"""Descent trajectories and the verdicts that say what happened.

A poor outcome is data, not an exception: every run ends with a :class:`Verdict`
(``converged``, ``converged-equivalent``, ``local-minimum``, ``cycling``, ``stalled``,
``diverged`` or ``not-converged``) that carries the figures that decided it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .objective import Engine, Problem
from .optim import OptimizerSettings, make_optimizer
from .scalar import golden_minimum

__all__ = ["VERDICTS", "Descents", "Trajectory", "Verdict", "classify", "loss_jumps",
           "run_descent", "run_descents"]

Array = NDArray[np.float64]

VERDICTS = ("converged", "converged-equivalent", "local-minimum", "cycling", "stalled",
            "diverged", "not-converged")
# Tolerances of the classification (documented in the README).
KERNEL_RTOL = 1e-3      # |K - K*| / |K*| below this: the kernel is the target's
PARAM_ATOL = 1e-3       # learned values within this of the target's: not an equivalent
SETTLED_XTOL = 1e-6     # steps below this (per coordinate) over the last 5 steps: settled
SLOPE_GTOL = 1e-6       # a settled run whose gradient is above this (x the run's largest)
                        # while the loss still falls is crawling, not stalled
BOUND = 1e6             # a parameter beyond this has run away
PERIOD_MAX = 32         # longest cycle period looked for
PERIOD_RTOL = 0.05      # |x[t+k] - x[t]| (median) below this fraction of the swing


@dataclass
class Trajectory:
    """Parameters, loss and gradient per step (row 0 is the start).

    ``params``: ``(T+1, n)``; ``loss``: ``(T+1,)``; ``grads``: ``(T+1, n)``;
    ``names``: the learned parameters. ``stopped_at`` is the step where non-finite
    values ended the run early (``None`` when every step ran).
    """

    names: tuple[str, ...]
    params: Array
    loss: Array
    grads: Array
    stopped_at: int | None = None

    @property
    def n_steps(self) -> int:
        """Number of updates taken."""
        return len(self.loss) - 1

    def step_sizes(self) -> Array:
        """Euclidean length of each update, ``(T,)`` (inf for a run-away step)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.linalg.norm(np.diff(self.params, axis=0), axis=1)

    def grad_norms(self) -> Array:
        """Gradient norm per step, ``(T+1,)``."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.linalg.norm(self.grads, axis=1)


@dataclass
class Verdict:
    """What a run did: ``kind`` (one of :data:`VERDICTS`), a one-paragraph ``message``
    and the ``evidence`` (plain numbers) that decided it."""

    kind: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

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
class Descents:
    """A batch of runs: ``params (T+1, B, n)``, ``loss (T+1, B)``, ``grads (T+1, B, n)``
    and ``stopped_at (B,)`` (-1 where every step ran)."""

    names: tuple[str, ...]
    params: Array
    loss: Array
    grads: Array
    stopped_at: NDArray[np.int64]

    def run(self, b: int) -> Trajectory:
        """Run ``b`` as a :class:`Trajectory`."""
        stop = int(self.stopped_at[b])
        end = len(self.loss) if stop < 0 else stop + 1
        return Trajectory(self.names, self.params[:end, b], self.loss[:end, b],
                          self.grads[:end, b], None if stop < 0 else stop)


def run_descents(engine: Engine, settings: OptimizerSettings, starts: Array, steps: int,
                 lr: Array | float | None = None,
                 progress: Callable[[int], None] | None = None,
                 schedule: Callable[[int], float] | None = None) -> Descents:
    """Run a batch of descents at once, one vectorised optimizer step per iteration.

    Parameters
    ----------
    engine : Engine
    settings : OptimizerSettings
    starts : array ``(B, n)``
        Starting values of the learned parameters, one row per run.
    steps : int
        Optimizer updates per run.
    lr : float or array ``(B,)``, optional
        Learning rate per run (default: the settings' lr).
    progress : callable, optional
        Called with the step number after each update.
    schedule : callable, optional
        ``schedule(t)`` multiplies the learning rate of update ``t`` (0-based), like a
        torch.optim.lr_scheduler stepped once per update.

    A run stops (and is frozen) at the first non-finite loss, gradient or parameter,
    or when a parameter leaves ``[-BOUND, BOUND]``.
    """
    optimizer = make_optimizer(settings)
    x = np.array(starts, dtype=np.float64, ndmin=2)
    batch, n = x.shape
    rates = settings.lr if lr is None else lr
    params = np.full((steps + 1, batch, n), np.nan)
    loss = np.full((steps + 1, batch), np.nan)
    grads = np.full((steps + 1, batch, n), np.nan)
    stopped = np.full(batch, -1, dtype=np.int64)
    alive = np.ones(batch, dtype=bool)
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            value, grad = engine.loss_and_grad(x)
            params[t], loss[t], grads[t] = x, value, grad
            bad = alive & ~(np.isfinite(value) & np.all(np.isfinite(grad), axis=1)
                            & np.all(np.abs(x) <= BOUND, axis=1))
            stopped[bad] = t
            alive &= ~bad
            if t == steps or not alive.any():
                break
            # frozen runs keep stepping on finite placeholders; their rows are not read
            safe_grad = np.where(alive[:, None], grad, 0.0)
            rate = rates if schedule is None else np.asarray(rates) * schedule(t)
            x = optimizer.step(np.where(alive[:, None], x, 0.0), safe_grad, rate)
            if progress is not None:
                progress(t + 1)
    return Descents(engine.problem.learn, params, loss, grads, stopped)


def run_descent(engine: Engine, settings: OptimizerSettings, start: Array, steps: int,
                progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run ``steps`` optimizer updates from ``start`` (one run of :func:`run_descents`).

    Stops early (``stopped_at``) at the first non-finite loss, gradient or parameter
    or when a parameter leaves ``[-BOUND, BOUND]``; ``progress(step)`` is called after
    each update.
    """
    start_row = np.asarray(start, dtype=np.float64).reshape(1, -1)
    return run_descents(engine, settings, start_row, steps, progress=progress).run(0)


# -- classification ----------------------------------------------------------------------

def _kernel_error(problem: Problem, values: Array) -> float:
    kernel, _ = problem.effective_kernels(values, derivatives=False)
    target, _ = problem.effective_kernels(problem.target_vector(), derivatives=False)
    return float(np.linalg.norm(kernel[0] - target[0]) / np.linalg.norm(target[0]))


def _tail(trajectory: Trajectory) -> int:
    return max(10, min(trajectory.n_steps // 4, 200))


def classify(trajectory: Trajectory, engine: Engine) -> Verdict:
    """Decide what a run did, with the evidence.

    Parameters
    ----------
    trajectory : Trajectory
        The run.
    engine : Engine
        Evaluates the loss near the end of the run (to tell a minimum from a maximum,
        and to find the minimum a cycle surrounds).
    """
    t = trajectory
    if t.stopped_at is not None:
        return _diverged(t)
    steps = t.step_sizes()
    last = steps[-min(5, len(steps)):] if len(steps) else np.zeros(1)
    if np.all(np.abs(np.diff(t.params[-len(last) - 1:], axis=0)) < SETTLED_XTOL):
        return _settled(t, engine)
    return _moving(t, engine)


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


def _settled(t: Trajectory, engine: Engine) -> Verdict:
    problem = engine.problem
    final = t.params[-1]
    grad_norm = float(np.linalg.norm(t.grads[-1]))
    kerr = _kernel_error(problem, final)
    distance = float(np.max(np.abs(final - problem.target_vector())))
    evidence: dict[str, Any] = {"final": dict(zip(t.names, map(float, final))),
                                "final_loss": float(t.loss[-1]), "final_grad_norm": grad_norm,
                                "kernel_error": kerr}
    if kerr < KERNEL_RTOL:
        if distance < PARAM_ATOL:
            return Verdict("converged", f"Converged to the target (kernel error {kerr:.1e}).",
                           evidence)
        offset = final - problem.target_vector()
        evidence["offset_from_target"] = dict(zip(t.names, map(float, offset)))
        return Verdict("converged-equivalent",
                       "Converged to parameters that give the target's kernel "
                       f"({_describe(t.names, final)}{_multiples_of_pi(t.names, offset)}; "
                       f"kernel error {kerr:.1e}): the optimum, at an angle equivalent to "
                       "the target.", evidence)
    norms = t.grad_norms()
    recent = t.loss[-6:]
    descending = len(recent) > 1 and bool(np.all(np.diff(recent) < 0))
    if descending and grad_norm > SLOPE_GTOL * max(1.0, float(np.nanmax(norms))):
        step = float(t.step_sizes()[-1])
        evidence["final_step"] = step
        return Verdict("not-converged",
                       f"Still descending, by tiny steps ({step:.2e} per update, gradient norm "
                       f"{grad_norm:.3g} at {_describe(t.names, final)}): the learning rate is "
                       "too small to get anywhere in this many steps.", evidence)
    shape = _local_shape(engine, final)
    evidence["shape"] = shape
    if shape == "minimum":
        return Verdict("local-minimum",
                       f"Settled in a local minimum that is not the target's "
                       f"({_describe(t.names, final)}, loss {t.loss[-1]:.4g}; kernel error "
                       f"{kerr:.2f}).", evidence)
    return Verdict("stalled",
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


def _describe(names: tuple[str, ...], values: Array) -> str:
    return ", ".join(f"{n} = {v:.4f}" for n, v in zip(names, values))


def _local_shape(engine: Engine, x: Array) -> str:
    """``minimum``, ``maximum``, ``saddle``, ``slope`` or ``plateau`` from the loss
    around ``x``."""
    h = 1e-4 * (1 + np.abs(x))
    probes = [x]
    for j in range(len(x)):
        for sign in (1, -1):
            p = x.copy()
            p[j] += sign * h[j]
            probes.append(p)
    values = engine.loss(np.array(probes))
    centre, around = values[0], values[1:]
    scale = 1e-12 * max(1.0, abs(centre))
    if np.all(around >= centre - scale):
        return "plateau" if np.all(np.abs(around - centre) <= scale) else "minimum"
    if np.all(around <= centre + scale):
        return "maximum"
    up = around > centre + scale
    down = around < centre - scale
    if np.all(up[0::2] != up[1::2]) and np.all(down[0::2] != down[1::2]):
        return "slope"  # along every coordinate one side is higher, the other lower
    return "saddle"


def _moving(t: Trajectory, engine: Engine) -> Verdict:
    w = _tail(t)
    tail = t.params[-(w + 1):]
    deltas = np.diff(tail, axis=0)
    j = int(np.argmax(np.abs(deltas).sum(axis=0)))  # the coordinate that moves most
    x = tail[:, j]
    dx = deltas[:, j]
    path = float(np.abs(dx).sum())
    net = float(abs(x[-1] - x[0]))
    turns = float(np.mean(np.sign(dx[1:]) != np.sign(dx[:-1]))) if len(dx) > 1 else 0.0
    half = len(dx) // 2
    # (a single step is both the early and the late half)
    early, late = np.median(np.abs(dx[:max(half, 1)])), np.median(np.abs(dx[half:]))
    evidence: dict[str, Any] = {
        "tail_steps": w, "coordinate": t.names[j], "turn_fraction": turns,
        "net_over_path": net / path if path else 0.0,
        "late_over_early_step": float(late / early) if early else 0.0,
        "tail_loss_min": float(t.loss[-(w + 1):].min()),
        "tail_loss_max": float(t.loss[-(w + 1):].max()),
        "loss_jumps": len(loss_jumps(t.loss)),
    }
    oscillating = turns >= 0.05 and net < 0.5 * path
    if not oscillating or late < 0.3 * early:
        what = ("oscillating with shrinking steps" if oscillating
                else "moving steadily")
        evidence["final_step"] = float(t.step_sizes()[-1])
        return Verdict("not-converged",
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


def loss_jumps(loss: Array, factor: float = 2.0) -> NDArray[np.intp]:
    """Steps where the loss rose by more than ``factor`` over the step before."""
    finite = np.where(np.isfinite(loss), loss, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.flatnonzero(finite[1:] > factor * np.abs(finite[:-1]) + 1e-300) + 1


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
    equivalent = _kernel_error(problem, point) < KERNEL_RTOL
    exact = equivalent and float(np.max(np.abs(point - problem.target_vector()))) < PARAM_ATOL
    return {"minimum": float(best), "minimum_loss": best_value,
            "minimum_is_target": equivalent, "minimum_is_exact_target": exact}
