"""Where recovery works: descents from a grid of starting angles, for several learning
rates, optimizers and losses, each judged like a single ``recover`` run."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, LimitError
from .experiment import Config
from .recover import build_problem, loss_period, make_engine_for, require_effect
from .trajectory import VERDICTS, Descents, Trajectory, classify, run_descents

__all__ = ["SCHEMA", "BasinCase", "BasinsResult", "judge_run", "judge_runs", "run_basins",
           "start_grid", "steps_to_settle"]

SCHEMA = "gabordiag.basins/1"
MAX_RUN_STEPS = 50_000_000  # starts x cases x steps
Array = NDArray[np.float64]


@dataclass
class BasinCase:
    """The outcome of every start for one (loss, optimizer, lr)."""

    loss: str
    optimizer: str
    lr: float
    kinds: list[str]
    final: list[float | None]
    steps_to_converge: list[int | None]

    def summary(self) -> dict[str, Any]:
        """Fraction of starts per verdict, success rate and median steps to converge."""
        n = len(self.kinds)
        fractions = {kind: self.kinds.count(kind) / n for kind in VERDICTS}
        steps = [s for s in self.steps_to_converge if s]  # a start at the target is no run
        return {"fractions": fractions,
                "success_rate": fractions["converged"] + fractions["converged-equivalent"],
                "median_steps_to_converge": float(np.median(steps)) if steps else None}

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"loss": self.loss, "optimizer": self.optimizer, "lr": self.lr,
                "outcomes": self.kinds, "final_theta": self.final,
                "steps_to_converge": self.steps_to_converge, "summary": self.summary()}


@dataclass
class BasinsResult:
    """Starts (theta0 values) and the cases run from them."""

    config: Config
    starts: Array
    cases: list[BasinCase] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.basins/1)."""
        return {"schema": SCHEMA, "config": self.config.to_dict(),
                "starts": [float(s) for s in self.starts], "engines": self.engines,
                "cases": [case.to_dict() for case in self.cases]}


def start_grid(config: Config, n: int) -> Array:
    """``n`` starting angles evenly over one full period centred on the target."""
    period = loss_period(config) or 2 * math.pi
    return config.target_theta - period / 2 + period * np.arange(n) / n


def steps_to_settle(values: Array, tol: float = 1e-4) -> int:
    """First step after which a run stays within ``tol`` of its final value."""
    far = np.flatnonzero(np.abs(values - values[-1]) >= tol)
    return int(far[-1] + 1) if len(far) else 0


def judge_run(run: Trajectory, engine: Any) -> tuple[str, int | None]:
    """A run's verdict kind and, when it recovered, the steps it took to settle."""
    kind = classify(run, engine).kind
    recovered = kind in ("converged", "converged-equivalent")
    return kind, steps_to_settle(run.params[:, 0]) if recovered else None


def judge_runs(descents: Descents, engine: Any) -> tuple[list[str], list[int | None]]:
    """:func:`judge_run` for every run of a batch."""
    judged = [judge_run(descents.run(b), engine) for b in range(descents.params.shape[1])]
    return [kind for kind, _ in judged], [steps for _, steps in judged]


def _case(descents: Descents, engine: Any, config: Config, lr: float) -> BasinCase:
    kinds, steps = judge_runs(descents, engine)
    final: list[float | None] = []
    for b in range(descents.params.shape[1]):
        last = float(descents.run(b).params[-1, 0])
        final.append(last if math.isfinite(last) else None)
    return BasinCase(loss=config.loss, optimizer=config.optimizer, lr=lr, kinds=kinds,
                     final=final, steps_to_converge=steps)


def run_basins(config: Config, starts: int = 360, lrs: list[float] | None = None,
               optimizers: list[str] | None = None, losses: list[str] | None = None,
               progress: Callable[[int], None] | None = None) -> BasinsResult:
    """Descents from ``starts`` angles for every (loss, optimizer, lr) combination.

    Parameters
    ----------
    config : Config
        The experiment; ``learn`` must be ``("theta",)``.
    starts : int
        Starting angles, evenly over one period.
    lrs, optimizers, losses : list, optional
        Values to compare; each defaults to the config's.
    progress : callable, optional
        Called with the number of optimizer steps done so far (over all cases).

    Examples
    --------
    >>> from gabordiag.experiment import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "lr": "3e-4", "steps": "200"})
    >>> result = run_basins(cfg, starts=12)
    >>> result.cases[0].summary()["success_rate"]
    1.0
    """
    if config.learn != ("theta",):
        raise ConfigError("--learn: basins sweeps starting angles and needs --learn theta")
    if not 1 <= starts <= 100_000:
        raise LimitError(f"--starts: {starts} is outside 1..100000")
    lrs = lrs or [config.lr]
    optimizers = optimizers or [config.optimizer]
    losses = losses or [config.loss]
    combos = [(loss, opt, lr) for loss in losses for opt in optimizers for lr in lrs]
    if starts * len(combos) * config.steps > MAX_RUN_STEPS:
        raise LimitError(f"--starts/--steps: {starts} starts x {len(combos)} cases x "
                         f"{config.steps} steps exceeds {MAX_RUN_STEPS:,} descent steps; "
                         "use fewer starts, steps or cases")
    grid = start_grid(config, starts)
    result = BasinsResult(config=config, starts=grid)
    done = 0
    for loss in losses:
        loss_config = replace(config, loss=loss)
        problem = build_problem(loss_config)
        require_effect(problem)  # a sweep over angles that do nothing would "recover" 100%
        engine = make_engine_for(problem, loss_config,
                                 evaluations=starts * config.steps)
        result.engines[loss] = engine.name
        for optimizer in optimizers:
            for lr in lrs:
                case_config = replace(loss_config, optimizer=optimizer, lr=lr)
                offset = done

                def advance(step: int, offset: int = offset) -> None:
                    if progress is not None:
                        progress(offset + step)

                descents = run_descents(engine, case_config.optimizer_settings,
                                        grid[:, None], config.steps, progress=advance)
                result.cases.append(_case(descents, engine, case_config, lr))
                done += config.steps
    return result
