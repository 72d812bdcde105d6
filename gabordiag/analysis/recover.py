"""The recovery experiment: run the configured descent and judge it (``gabordiag recover``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.model import MAX_STEPS, Config
from ..descent.explain import classify
from ..descent.runner import Trajectory, run_descent
from ..descent.verdicts import SETTLED_XTOL, Verdict
from ..engines.base import Engine
from ..engines.choice import STEP, call_seconds
from .cost import MORE_SECONDS, recover_cost, refuse, user_call_seconds
from .plain import floats
from .stability import stability
from .study import Study

__all__ = ["SCHEMA", "RecoverResult", "recover", "theta_curve", "theta_profile"]

SCHEMA = "gabordiag.recover/1"
Array = NDArray[np.float64]


@dataclass
class RecoverResult:
    """A recovery run: config, engine, trajectory and verdict."""

    config: Config
    engine: Engine
    kernel: str
    trajectory: Trajectory
    verdict: Verdict
    period: float | None
    gradient: dict[str, Any]
    period_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types, JSON-ready (``schema`` gabordiag.recover/1)."""
        t = self.trajectory
        return {
            "schema": SCHEMA,
            "config": self.config.to_dict(),
            "engine": self.engine.name,
            "period": self.period,
            "period_reason": self.period_reason,
            "params": {name: floats(t.params[:, j]) for j, name in enumerate(t.names)},
            "loss": floats(t.loss),
            "grads": {name: floats(t.grads[:, j]) for j, name in enumerate(t.names)},
            "gradient": self.gradient,
            "verdict": self.verdict.to_dict(),
        }

    def to_csv(self) -> str:
        """step, the learned parameters, loss, gradients, step size."""
        t = self.trajectory
        header = ["step", *t.names, "loss", *(f"grad_{n}" for n in t.names), "step_size"]
        sizes = np.append(t.step_sizes(), np.nan)
        rows = [",".join(header)]
        for i in range(len(t.loss)):
            values = [*t.params[i], t.loss[i], *t.grads[i], sizes[i]]
            rows.append(",".join([str(i), *(repr(float(v)) for v in values)]))
        return "\n".join(rows) + "\n"


def theta_curve(result: RecoverResult, points: int = 721) -> tuple[Array, Array]:
    """Loss over theta (other parameters at their final values) across the span of
    the run, widened to at least one loss period."""
    t = result.trajectory
    j = t.names.index("theta")
    thetas = t.params[:, j][np.isfinite(t.params[:, j])]
    period = result.period or 2 * np.pi
    low, high = float(thetas.min()), float(thetas.max())
    if high - low < period:
        middle = (low + high) / 2
        low, high = middle - period / 2, middle + period / 2
    grid = np.linspace(low - 0.05 * period, high + 0.05 * period, points)
    final = t.params[-1] if np.all(np.isfinite(t.params[-1])) else t.params[0]
    probes = np.repeat(final[None, :], points, axis=0)
    probes[:, j] = grid
    return grid, result.engine.loss(probes)


def theta_profile(result: RecoverResult, grid: Array) -> tuple[Array, Array]:
    """Loss and d loss / d theta at ``grid`` (the other learned parameters at their final
    values): the curve the iterates of a run move on, for drawing its mechanism."""
    t = result.trajectory
    j = t.names.index("theta")
    final = t.params[-1] if np.all(np.isfinite(t.params[-1])) else t.params[0]
    probes = np.repeat(final[None, :], len(grid), axis=0)
    probes[:, j] = grid
    loss, grad = result.engine.loss_and_grad(probes)
    return loss, grad[:, j]


def gradient_summary(study: Study, trajectory: Trajectory, verdict: Verdict
                     ) -> dict[str, Any]:
    """Gradient magnitude at the start, over the run and near the end; at a kink, why
    the run cannot settle."""
    norms = trajectory.grad_norms()
    finite = norms[np.isfinite(norms)]
    tail = finite[-max(1, min(len(finite) // 4, 50)):]
    summary: dict[str, Any] = {
        "start": float(finite[0]) if len(finite) else None,
        "min": float(finite.min()) if len(finite) else None,
        "max": float(finite.max()) if len(finite) else None,
        "end_median": float(np.median(tail)) if len(tail) else None,
        "nonvanishing_at_minimum": False,
    }
    config = study.config
    if config.loss in ("rmse", "l1") and verdict.kind == "cycling" and summary["end_median"]:
        summary["nonvanishing_at_minimum"] = True
        param = str(verdict.evidence.get("coordinate", config.learn[0]))
        summary["note"] = stability(study, param).explain_kink(
            config.lr, summary["end_median"], plain=config.plain_sgd)
    return summary


def steps_below(params: Array, tol: float = SETTLED_XTOL) -> int:
    """The step from which every later update moves every coordinate by less than
    ``tol``: where a run is settled by the verdicts' definition (0: from the start)."""
    moves = np.max(np.abs(np.diff(params, axis=0)), axis=1)
    big = np.flatnonzero(~(moves < tol))
    return int(big[-1]) + 1 if len(big) else 0


MORE_STEPS = 10  # a run still moving is continued to this many times its steps, when
# that is estimated to take less than MORE_SECONDS (gabordiag.analysis.cost)


def _with_more_steps(study: Study, engine: Engine, verdict: Verdict) -> Verdict:
    """Whether more steps settle a run that was still moving: continue it (the same
    run, longer) and say what that shows."""
    config = study.config
    steps = min(MORE_STEPS * config.steps, MAX_STEPS)
    per_step = STEP + call_seconds(engine.problem, engine.name, 1,
                                   user_call=user_call_seconds(study))
    if steps * per_step > MORE_SECONDS:  # any engine: a million spectral steps take 2 min
        return verdict
    longer = run_descent(engine, config.optimizer_settings, study.start_vector(), steps)
    outcome = classify(longer, engine)
    evidence = {**verdict.evidence, "more_steps": {"steps": steps, "verdict": outcome.kind}}
    if outcome.recovered:
        settled = steps_below(longer.params)
        evidence["more_steps"]["settled_at"] = settled
        what = (f"with {steps} steps it converges ({outcome.kind}; its steps stay below "
                f"{SETTLED_XTOL:.0e} from step {settled} on)".replace("e-0", "e-"))
    else:
        what = f"{steps} steps do not settle it either ({outcome.kind})"
    return Verdict(verdict.kind, f"{verdict.message[:-1]}; {what}.", evidence)


def recover(study: Study, progress: Callable[[int], None] | None = None) -> RecoverResult:
    """Reproduce the recovery experiment of a study (computed once per study).

    Parameters
    ----------
    study : Study
        The experiment (see :class:`~gabordiag.analysis.study.Study`).
    progress : callable, optional
        Called with the step number after each update.

    Returns
    -------
    RecoverResult

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "lr": "3e-4", "steps": "200"})
    >>> recover(Study(cfg)).verdict.kind
    'converged-equivalent'
    """
    return study.memo("recover", lambda: _run(study, progress))


def _run(study: Study, progress: Callable[[int], None] | None) -> RecoverResult:
    config = study.config
    refuse(recover_cost(study), "--steps", "use fewer steps, a smaller image or kernel")
    study.require_effect()
    engine = study.engine(evaluations=config.steps)
    trajectory = run_descent(engine, config.optimizer_settings, study.start_vector(),
                             config.steps, progress)
    verdict = classify(trajectory, engine)
    if verdict.kind == "not-converged":
        verdict = _with_more_steps(study, engine, verdict)
    return RecoverResult(config=config, engine=engine,
                         kernel=study.kernel_description(engine.name),
                         trajectory=trajectory, verdict=verdict, period=study.period,
                         gradient=gradient_summary(study, trajectory, verdict),
                         period_reason=study.problem().period_of("theta")[1])
