"""Where recovery works: descents from a grid of starting angles, for several learning
rates, optimizers and losses, each judged like a single ``recover`` run
(``gabordiag basins``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..config.choices import RECOVERED, VERDICTS
from ..config.model import Config, OptimizerSettings
from ..core.problem import KERNEL_RTOL
from ..descent.runner import Descents, run_descents
from ..descent.verdicts import judge, steps_to_settle
from ..engines.base import Engine
from ..errors import ConfigError, LimitError
from .cost import basins_cost, refuse
from .study import Study

if TYPE_CHECKING:
    from .landscape import Landscape

__all__ = ["MAX_RUN_STEPS", "SCHEMA", "BasinCase", "BasinsResult", "Outcomes", "ViaOutcomes",
           "judge_runs", "run_basins", "start_grid", "sweep"]

SCHEMA = "gabordiag.basins/1"
MAX_RUN_STEPS = 50_000_000  # starts x cases x steps
MAX_STARTS = 100_000
Array = NDArray[np.float64]


@dataclass
class Outcomes:
    """What every run of a batch did: verdict kinds, for the runs that recovered the
    steps they took to settle (``None`` for the others), and which runs started on the
    answer (their kernel already the target's): those are no recovery, and the
    fractions and the success rate leave them out."""

    kinds: list[str]
    steps_to_converge: list[int | None]
    started_at_answer: list[bool]

    def _counted(self) -> list[str]:
        return [k for k, at in zip(self.kinds, self.started_at_answer) if not at]

    @property
    def fractions(self) -> dict[str, float]:
        """Share of runs per verdict kind (of the runs that did not start on the answer)."""
        counted = self._counted()
        n = max(len(counted), 1)
        return {kind: counted.count(kind) / n for kind in VERDICTS}

    @property
    def success_rate(self) -> float:
        """Share of runs that moved to the target's kernel."""
        f = self.fractions
        return sum(f[kind] for kind in RECOVERED)

    @property
    def median_steps(self) -> float | None:
        """Median steps to converge over the runs that moved to the answer."""
        steps = [s for s, at in zip(self.steps_to_converge, self.started_at_answer)
                 if s is not None and not at]
        return float(np.median(steps)) if steps else None

    def recovered_text(self) -> str:
        """How many runs recovered, as a count (``none of the 72 starts``, ``only 6 of
        8 starts (75%)``, ``all 72 starts``), so that a rate that rounds to 0% or 100%
        is not mistaken for none or all."""
        counted = self._counted()
        n, count = len(counted), sum(kind in RECOVERED for kind in counted)
        if count == 0:
            return f"none of the {n} starts"
        if count == n:
            return f"all {n} starts"
        return f"{count} of {n} starts ({count / n:.0%})"


class ViaOutcomes:
    """The figures of a set of runs, read from its :class:`Outcomes` (``self.outcomes``)."""

    outcomes: Outcomes

    @property
    def kinds(self) -> list[str]:
        """The verdict kind of each start."""
        return self.outcomes.kinds

    @property
    def steps_to_converge(self) -> list[int | None]:
        """Steps to settle of each start that recovered (``None`` for the others)."""
        return self.outcomes.steps_to_converge

    @property
    def fractions(self) -> dict[str, float]:
        """Share of starts per verdict kind."""
        return self.outcomes.fractions

    @property
    def success_rate(self) -> float:
        """Share of starts that moved to the target's kernel."""
        return self.outcomes.success_rate

    @property
    def median_steps(self) -> float | None:
        """Median steps to converge over the runs that converged."""
        return self.outcomes.median_steps

    def recovered_text(self) -> str:
        """How many starts recovered, as a count (see :meth:`Outcomes.recovered_text`)."""
        return self.outcomes.recovered_text()


def judge_runs(descents: Descents, engine: Engine) -> Outcomes:
    """The verdict of every run of a batch, judged at once, the steps to settle of
    those that recovered, and the runs that started on the answer."""
    kinds = judge(descents, engine).kinds
    # (a fixed point's repeated rows settle nothing: the rows computed are enough)
    settle = steps_to_settle(descents.stored_params[:, :, 0])
    steps = [int(s) if kind in RECOVERED else None for kind, s in zip(kinds, settle)]
    at_answer = started_at_answer(descents, engine)
    return Outcomes(kinds, steps, [bool(a) for a in at_answer])


def started_at_answer(descents: Descents, engine: Engine) -> NDArray[np.bool_]:
    """Whether each run's start gives the target's kernel (``KERNEL_RTOL``).

    Kernels are compared only where the loss at the start does not already decide: for
    the MSE family with a Gram matrix ``G``, ``|k - k*|^2 >= mse P / gram_norm``
    (``P`` output pixels), and a start whose bound is four times the squared tolerance
    is far from the answer without building its kernel.
    """
    problem = engine.problem
    starts = descents.stored_params[0]
    candidates = np.ones(len(starts), dtype=bool)
    norm = getattr(engine, "gram_norm", None)
    if norm and problem.loss.mse_family:
        loss = descents.stored_loss[0]
        eps = problem.loss.eps if problem.loss.name == "rmse-eps" else 0.0
        square = loss if problem.loss.name == "mse" else loss * loss
        mse = (square - eps) - 1e-12 * (square + eps)  # less than the MSE, to rounding
        scale = float(np.sum(problem.target_kernel() ** 2)) * norm / problem.n_out
        with np.errstate(invalid="ignore"):
            candidates = ~(mse > 4 * KERNEL_RTOL**2 * scale)  # NaN: compare kernels
    out = np.zeros(len(starts), dtype=bool)
    if candidates.any():
        out[candidates] = problem.gives_target_kernel(starts[candidates])
    return out


@dataclass
class BasinCase(ViaOutcomes):
    """The outcome of every start for one (loss, optimizer, lr)."""

    loss: str
    optimizer: str
    lr: float
    outcomes: Outcomes
    final: list[float | None]

    def summary(self) -> dict[str, Any]:
        """Fraction of starts per verdict, success rate and median steps to converge."""
        o = self.outcomes
        return {"fractions": o.fractions, "success_rate": o.success_rate,
                "median_steps_to_converge": o.median_steps,
                "starts_at_answer": sum(o.started_at_answer)}

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"loss": self.loss, "optimizer": self.optimizer, "lr": self.lr,
                "outcomes": self.kinds, "final_theta": self.final,
                "steps_to_converge": self.steps_to_converge,
                "summary": self.summary()}


@dataclass
class BasinsResult:
    """Starts (theta0 values) and the cases run from them."""

    config: Config
    starts: Array
    cases: list[BasinCase] = field(default_factory=list)
    engines: dict[str, str] = field(default_factory=dict)
    landscape: Landscape | None = None  # the loss over theta, for the figure

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.basins/1)."""
        return {"schema": SCHEMA, "config": self.config.to_dict(),
                "starts": [float(s) for s in self.starts], "engines": self.engines,
                "cases": [case.to_dict() for case in self.cases]}


def start_grid(study: Study, n: int) -> Array:
    """``n`` starting angles evenly over one full period around the target, offset by a
    quarter of their spacing so that none is the target or an equivalent angle."""
    period = study.period or 2 * math.pi
    return study.config.target_theta - period / 2 + period * (np.arange(n) + 0.25) / n


def sweep(study: Study, grid: Array, settings: OptimizerSettings | None = None,
          loss: str | None = None, progress: Callable[[int], None] | None = None
          ) -> tuple[Descents, Engine]:
    """Descents of the study's problem (or another loss) from every angle of ``grid``,
    run once per study: ``basins`` and ``remedies`` in one ``diagnose`` share them."""
    config = study.config
    settings = settings or config.optimizer_settings
    engine = study.engine(loss=loss, evaluations=len(grid) * config.steps)
    key = ("sweep", engine.problem.loss.name, settings, grid.tobytes(), config.steps)
    descents = study.memo(key, lambda: run_descents(engine, settings, grid[:, None],
                                                    config.steps, progress=progress))
    return descents, engine


def check_sweep(study: Study, starts: int, cases: int, command: str = "basins") -> None:
    """Refuse, before any work, a sweep this tool should not start."""
    config = study.config
    if config.learn != ("theta",):
        raise ConfigError(f"--learn: {command} sweeps starting angles and needs --learn theta")
    if not 1 <= starts <= MAX_STARTS:
        raise LimitError(f"--starts: {starts} is outside 1..{MAX_STARTS}")
    if starts * cases * config.steps > MAX_RUN_STEPS:
        raise LimitError(f"--starts/--steps: {starts:,} starts x {cases} "
                         f"case{'s' if cases > 1 else ''} x {config.steps:,} steps exceeds "
                         f"{MAX_RUN_STEPS:,} descent steps; use fewer starts, steps or cases")


def run_basins(study: Study, starts: int = 360, lrs: list[float] | None = None,
               optimizers: list[str] | None = None, losses: list[str] | None = None,
               progress: Callable[[int], None] | None = None,
               with_landscape: bool = False) -> BasinsResult:
    """Descents from ``starts`` angles for every (loss, optimizer, lr) combination.

    Parameters
    ----------
    study : Study
        The experiment; ``learn`` must be ``("theta",)``.
    starts : int
        Starting angles, evenly over one period.
    lrs, optimizers, losses : list, optional
        Values to compare; each defaults to the config's.
    progress : callable, optional
        Called with the number of optimizer steps done so far (over all cases).
    with_landscape : bool
        Add the loss over theta (for the figure that lines the basins up with it).

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> cfg, _ = resolve_config({"loss": "mse", "lr": "3e-4", "steps": "200"})
    >>> result = run_basins(Study(cfg), starts=12)
    >>> result.cases[0].summary()["success_rate"]
    1.0
    """
    config = study.config
    lrs = lrs or [config.lr]
    optimizers = optimizers or [config.optimizer]
    losses = losses or [config.loss]
    check_sweep(study, starts, len(lrs) * len(optimizers) * len(losses))
    cases = [(loss, optimizer, lr) for loss in losses for optimizer in optimizers
             for lr in lrs]
    refuse(basins_cost(study, starts, cases, plot=with_landscape), "--starts/--steps",
           "use fewer starts, steps or cases, a smaller image or kernel")
    grid = start_grid(study, starts)
    result = BasinsResult(config=config, starts=grid)
    done = 0
    for loss in losses:
        study.require_effect()  # a sweep over angles that do nothing would "recover" 100%
        for optimizer in optimizers:
            for lr in lrs:
                settings = replace(config.optimizer_settings, name=optimizer, lr=lr)

                def advance(step: int, offset: int = done) -> None:
                    if progress is not None:
                        progress(offset + step)

                descents, engine = sweep(study, grid, settings, loss, advance)
                result.engines[loss] = engine.name
                final = [float(v) if math.isfinite(v) else None
                         for v in descents.final()[:, 0]]
                result.cases.append(BasinCase(loss, optimizer, lr,
                                              judge_runs(descents, engine), final))
                done += config.steps
    if with_landscape:
        from .landscape import theta_landscape

        result.landscape = theta_landscape(study)
    return result
