"""One run's verdict in words: the judge's kind, a message that states what the run
shows (and no more), and the evidence that decided it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.choices import RECOVERED
from ..core.problem import KERNEL_RTOL, PARAM_ATOL
from ..core.scalar import golden_minimum
from ..engines.base import Engine
from .cycles import loss_swing, oscillation
from .runner import BOUND, Trajectory
from .verdicts import PLATEAU_RTOL, Judgement, Verdict, judge, loss_jumps

__all__ = ["classify"]

Array = NDArray[np.float64]


def classify(trajectory: Trajectory, engine: Engine) -> Verdict:
    """Decide what a run did (:func:`~gabordiag.descent.verdicts.judge` on a batch of
    one), with the message and the evidence.

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
        if verdict.jump_step[0] >= 0:
            return _thrown(trajectory, verdict)
        return _stopped(trajectory)
    if kind == "stalled" and verdict.plateau[0] < PLATEAU_RTOL:
        return _plateau(trajectory, engine, verdict)
    if verdict.settled[0]:
        return _settled(trajectory, engine, kind, float(verdict.kernel_error[0]),
                        verdict.shape[0])
    return _moving(trajectory, engine, kind, verdict)


def _describe(names: tuple[str, ...], values: Array) -> str:
    return ", ".join(f"{n} = {v:.4f}" for n, v in zip(names, values))


def _stopped(t: Trajectory) -> Verdict:
    step = t.stopped_at
    assert step is not None
    row = t.params[step]
    if np.all(np.isfinite(row)) and np.any(np.abs(row) > BOUND):
        j = int(np.argmax(np.abs(row)))
        what = f"{t.names[j]} reached {row[j]:.3g}, beyond [-1e6, 1e6]"
    else:
        what = "the loss, gradient or a parameter became NaN or infinite"
    return Verdict("diverged", f"Diverged at step {step}: {what}.",
                   {"step": step, "last_finite_loss": _last_finite(t.loss[:step + 1])})


def _thrown(t: Trajectory, verdict: Judgement) -> Verdict:
    step, j = int(verdict.jump_step[0]), int(verdict.jump_param[0])
    name = t.names[j]
    before, after = float(t.params[step - 1, j]), float(t.params[step, j])
    final = t.params[-1]
    start_grad = float(np.linalg.norm(t.grads[0]))
    end_grad = float(np.linalg.norm(t.grads[-1]))
    evidence: dict[str, Any] = {
        "step": step, "param": name, "from": before, "to": after,
        "factor": abs(after - before) / max(abs(before), 1e-300),
        "final": dict(zip(t.names, map(float, final))), "final_loss": float(t.loss[-1]),
        "start_grad_norm": start_grad, "final_grad_norm": end_grad}
    flat = start_grad > 0 and end_grad < 1e-6 * start_grad
    there = (f"; there the loss is flat (gradient {end_grad:.2g} at the end, "
             f"{start_grad:.3g} at the start) and the run ends at loss {t.loss[-1]:.4g}, "
             "so more steps do not bring it back" if flat else
             f"; it ends at {_describe(t.names, final)}, loss {t.loss[-1]:.4g}")
    return Verdict("diverged",
                   f"Diverged at step {step}: one update threw {name} from {before:.4g} to "
                   f"{after:.4g} ({evidence['factor']:.3g} times its size){there}.",
                   evidence)


def _last_finite(values: Array) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if len(finite) else None


def _plateau(t: Trajectory, engine: Engine, verdict: Judgement) -> Verdict:
    final = t.params[-1]
    grad = float(np.linalg.norm(t.grads[-1]))
    largest = float(np.nanmax(t.grad_norms()))
    kerr = float(engine.problem.kernel_errors(final[None, :])[0])
    ratio = float(verdict.plateau[0])
    step = float(t.step_sizes()[-1]) if t.n_steps else 0.0
    far = "far from the target" if kerr > 0.5 else "away from the target"
    evidence = {"final": dict(zip(t.names, map(float, final))), "final_loss": float(t.loss[-1]),
                "final_grad_norm": grad, "largest_grad_norm": largest,
                "sensitivity_ratio": ratio, "kernel_error": kerr, "final_step": step}
    return Verdict("stalled",
                   f"Stalled on a plateau at {_describe(t.names, final)}: the kernel hardly "
                   f"changes there (its sensitivity is {ratio:.1e} of that at the target, "
                   f"below {PLATEAU_RTOL:g}), the gradient is {grad:.2g} (largest in the run "
                   f"{largest:.3g}) and the last step {step:.2g}; {far} (kernel error "
                   f"{kerr:.2f}).", evidence)


def _settled(t: Trajectory, engine: Engine, kind: str, kerr: float,
             shape: str | None) -> Verdict:
    problem = engine.problem
    final = t.params[-1]
    grad_norm = float(np.linalg.norm(t.grads[-1]))
    evidence: dict[str, Any] = {"final": dict(zip(t.names, map(float, final))),
                                "final_loss": float(t.loss[-1]), "final_grad_norm": grad_norm,
                                "kernel_error": kerr}
    start_error = float(problem.kernel_errors(t.params[:1])[0])
    if kind in RECOVERED and start_error < KERNEL_RTOL:
        evidence["started_at_answer"] = True
        evidence["start_kernel_error"] = start_error
        return Verdict(kind,
                       f"Started on the target's kernel (kernel error {start_error:.1e} at "
                       f"the start) and stayed there (kernel error {kerr:.1e} at the end): "
                       "the run does not test recovery from anywhere else.", evidence)
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
    tail = t.params[-(w + 1):]
    x = tail[:, j]
    evidence: dict[str, Any] = {
        "tail_steps": w, "coordinate": t.names[j],
        "turn_fraction": float(verdict.turn_fraction[0]),
        "net_over_path": float(verdict.net_over_path[0]),
        "late_over_early_step": float(verdict.late_over_early_step[0]),
        "step_decay": float(verdict.step_decay[0]),
        "tail_loss_min": float(t.loss[-(w + 1):].min()),
        "tail_loss_max": float(t.loss[-(w + 1):].max()),
        "loss_jumps": len(loss_jumps(t.loss)),
    }
    if kind == "not-converged":
        oscillating = (evidence["turn_fraction"] >= 0.05
                       and evidence["net_over_path"] < 0.5)
        trend = evidence["late_over_early_step"]
        what = ("oscillating with shrinking steps" if oscillating else
                "moving by shrinking steps" if trend < 0.5 else
                "moving by growing steps" if trend > 2 else "moving steadily")
        evidence["final_step"] = float(t.step_sizes()[-1])
        return Verdict(kind,
                       f"Still {what} when the steps ran out (last step "
                       f"{evidence['final_step']:.2e}, {_describe(t.names, t.params[-1])}).",
                       evidence)
    unit = "rad" if t.names[j] in ("theta", "psi") else ""
    osc = oscillation(x, first_step=t.n_steps - w)
    evidence.update(osc.to_evidence())
    loss_range = loss_swing(evidence["tail_loss_min"], evidence["tail_loss_max"])
    span = float(np.ptp(x))
    evidence["span"] = span
    half_period = engine.problem.theta_period / 2
    if t.names[j] == "theta" and span > half_period:
        evidence["across_basins"] = True
        return Verdict("cycling",
                       f"Cycling across basins: over the last {w} steps theta ranges over "
                       f"{span:.3g} rad, more than half the period ({half_period:.4g} rad); "
                       f"{loss_range} and no minimum holds it.", evidence)
    minimum = (_surrounded_minimum(engine, t.params[-1], j, float(x.min()), float(x.max()))
               if len(t.names) == 1 else _minimum_in_all(engine, tail, t.loss[-(w + 1):], j))
    evidence.update({"across_basins": False, **minimum})
    if minimum["minimum_found"]:
        where = _describe(t.names, np.atleast_1d(minimum["minimum_point"]))
        around = (f"around the minimum at {where}"
                  + (" (the target)" if minimum["minimum_is_exact_target"] else
                     " (equivalent to the target)" if minimum["minimum_is_target"] else
                     " (not the target's)"))
    else:
        where = _describe(t.names, tail.mean(axis=0))
        n = len(t.names)
        around = (f"around {where} (the orbit's centre; no minimum"
                  + (f" in all {n} parameters" if n > 1 else "") + " lies within its span)")
    ending = ("and never settles: the orbit repeats" if osc.limit_cycle else
              "and had not settled when the steps ran out")
    message = f"Cycling: {osc.describe(unit)}, {around}; {loss_range} {ending}."
    return Verdict("cycling", " ".join(message.split()), evidence)


def _target_facts(engine: Engine, point: Array) -> dict[str, Any]:
    problem = engine.problem
    equivalent = bool(problem.gives_target_kernel(point[None, :])[0])
    exact = equivalent and float(np.max(np.abs(point - problem.target_vector()))) < PARAM_ATOL
    return {"minimum_is_target": equivalent, "minimum_is_exact_target": exact}


def _surrounded_minimum(engine: Engine, final: Array, j: int, low: float,
                        high: float) -> dict[str, Any]:
    """The lowest loss along coordinate ``j`` (the only one learned) over the cycle's
    span: a grid, then a golden-section search around its best point. A minimum only
    when that point is inside the span (at an end the loss just falls towards it: an
    orbit on a slope surrounds no minimum)."""
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

        x, fx = golden_minimum(along, float(lo), float(hi), xtol=MINIMUM_XTOL)
        if fx <= best_value:
            best, best_value = x, fx
        # what the search cannot resolve: the loss's change over its tolerance
        nearby = [along(best - MINIMUM_XTOL), along(best + MINIMUM_XTOL)]
        resolution = max(abs(v - best_value) for v in nearby)
        best_value = _zero_within_noise(best_value, resolution, float(np.max(values)))
    point = final.copy()
    point[j] = best
    inside = 0 < i < len(grid) - 1
    return {"minimum": float(best), "minimum_point": point.tolist(), "minimum_found": inside,
            "minimum_loss": best_value, **_target_facts(engine, point)}


# The golden-section search places a minimum to this many radians (or units) ...
MINIMUM_XTOL = 1e-10
# ... and a loss below this share of the losses around it is rounding noise.
LOSS_NOISE = 1e-12


def _zero_within_noise(value: float, resolution: float, scale: float) -> float:
    """``0.0`` for a loss at a minimum that is zero within what can be resolved: below
    twice its change over the search's tolerance (``resolution``: at a kink, slope x
    1e-10) plus :data:`LOSS_NOISE` of the losses around it (``scale``). A loss of 1.3e-10
    here and 1.9e-10 with another BLAS thread count is the same zero (issue 15)."""
    if math.isfinite(value) and value <= 2 * resolution + LOSS_NOISE * abs(scale):
        return 0.0
    return value


def _minimum_in_all(engine: Engine, tail: Array, losses: Array, j: int) -> dict[str, Any]:
    """A minimum in every learned parameter near the cycle: L-BFGS-B from the tail's
    lowest point, within twice the tail's span, on a smooth stand-in for the loss (the
    square of ``rmse``-like losses, which has the same minima). Accepted when it ends
    inside the box with a scaled gradient below 1e-3 of the largest along the tail."""
    from scipy.optimize import minimize  # only this path pays for the import

    span = np.maximum(np.ptp(tail, axis=0), 1e-12)
    origin = tail[int(np.argmin(losses))].copy()
    squared = engine.problem.loss.name in ("rmse", "rmse-eps")

    def objective(points: Array) -> tuple[Array, Array]:
        value, grad = engine.loss_and_grad(points)
        return (value**2, 2 * value[:, None] * grad) if squared else (value, grad)

    def scaled(z: Array) -> tuple[float, Array]:
        value, grad = objective((origin + span * z)[None, :])
        return float(value[0]), grad[0] * span

    _, tail_grads = objective(tail)
    scale = float(np.max(np.linalg.norm(tail_grads * span, axis=1)))
    low = (tail.min(axis=0) - span - origin) / span
    high = (tail.max(axis=0) + span - origin) / span
    with np.errstate(all="ignore"):
        found = minimize(scaled, np.zeros(len(origin)), jac=True, method="L-BFGS-B",
                         bounds=list(zip(low, high)),
                         options={"maxiter": 500, "ftol": 1e-15, "gtol": 1e-12})
    x = origin + span * found.x
    _, grad = scaled(found.x)
    inside = bool(np.all((found.x > low + 1e-9) & (found.x < high - 1e-9)))
    flat = float(np.linalg.norm(grad)) <= 1e-3 * scale
    loss = float(engine.loss(x[None, :])[0])
    loss = _zero_within_noise(loss, 0.0, float(np.max(losses)))
    return {"minimum": float(x[j]), "minimum_point": x.tolist(),
            "minimum_found": inside and flat, "minimum_loss": loss,
            **_target_facts(engine, x)}
