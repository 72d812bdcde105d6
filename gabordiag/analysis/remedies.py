"""The known remedies for a failing recovery, each run over starting angles and ranked
(``gabordiag remedies``).

Every remedy is a measured change to the experiment (loss, learning rate, schedule,
optimizer, starts, parametrisation, coarse-to-fine), run from the same grid of starts
as ``basins`` and judged by the same batch judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.choices import RECOVERED
from ..config.model import Config
from ..core.kernel import period_label
from ..descent.runner import UnitVector, run_descents
from ..descent.verdicts import steps_to_settle
from ..engines.base import Engine
from .basins import Outcomes, ViaOutcomes, check_sweep, judge_runs, start_grid, sweep
from .cost import refuse, remedies_cost
from .landscape import theta_landscape
from .stability import stability
from .study import Study

__all__ = ["REMEDY_CASES", "SCHEMA", "RemediesResult", "RemedyOutcome", "run_remedies"]

SCHEMA = "gabordiag.remedies/1"
Array = NDArray[np.float64]
COARSE_BLUR = 0.25  # blur width of the coarse stage, in carrier wavelengths
REMEDY_CASES = 9  # the baseline and at most eight remedies, for the step limit
FAILURES = ("cycling", "local-minimum", "stalled", "diverged", "not-converged")


@dataclass
class RemedyOutcome(ViaOutcomes):
    """What a remedy did over the starts."""

    id: str
    title: str
    why: str
    changes: dict[str, Any]
    outcomes: Outcomes
    removes: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None  # the config fields it sets, when that is all

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"id": self.id, "title": self.title, "why": self.why,
                "changes": self.changes, "success_rate": self.success_rate,
                "median_steps_to_converge": self.median_steps,
                "fractions": self.fractions, "removes": self.removes,
                "leaves": self.leaves}


@dataclass
class RemediesResult:
    """The baseline and every remedy, ranked (best first)."""

    config: Config
    starts: Array
    baseline: RemedyOutcome
    remedies: list[RemedyOutcome]
    facts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.remedies/1)."""
        return {"schema": SCHEMA, "config": self.config.to_dict(),
                "starts": [float(s) for s in self.starts], "facts": self.facts,
                "baseline": self.baseline.to_dict(),
                "remedies": [r.to_dict() for r in self.remedies]}


# -- running a remedy -----------------------------------------------------------------

def _plain(study: Study, starts: Array, schedule: Callable[[int], float] | None = None
           ) -> Outcomes:
    if schedule is None:  # the same runs as a basins sweep of the study: shared
        return judge_runs(*sweep(study, starts))
    config = study.config
    engine = study.engine(evaluations=len(starts) * config.steps)
    descents = run_descents(engine, config.optimizer_settings, starts[:, None], config.steps,
                            schedule=schedule)
    return judge_runs(descents, engine)


_BANK_PHASE = (math.sqrt(5) - 1) / 4  # irrational: no bank angle is a grid's target


def _judge_by_starts(outcomes: Outcomes, engine: Engine, starts: Array) -> None:
    """Which runs started on the answer, from ``starts``: where the whole run began,
    not the bank member that won or the start of a second stage."""
    outcomes.started_at_answer = [bool(a) for a in
                                  engine.problem.gives_target_kernel(starts[:, None])]


def _multi_start(study: Study, starts: Array, bank: int) -> Outcomes:
    """A bank of ``bank`` angles around each start (evenly over the period); keep the run
    with the lowest final loss.

    When the starts are the evenly spaced grid of the sweep and ``bank`` divides their
    number, the bank's angles are angles of the grid (modulo the period, the same
    kernel): the sweep's own runs serve, and nothing is run again."""
    config = study.config
    period = study.period or 2 * math.pi
    n = len(starts)
    if n % bank == 0 and np.array_equal(starts, start_grid(study, n)):
        descents, engine = sweep(study, starts)
        members = (np.arange(n)[:, None] + (n // bank) * np.arange(bank)[None, :]) % n
    else:
        # the bank's angles are shifted by an irrational fraction of their spacing, so
        # that none of them is the target or an equivalent angle (a start on the answer
        # would make the remedy look better than it is)
        offsets = period * (np.arange(bank) + _BANK_PHASE) / bank
        grid = (starts[:, None] + offsets[None, :]).ravel()
        engine = study.engine(evaluations=len(grid) * config.steps)
        descents = run_descents(engine, config.optimizer_settings, grid[:, None],
                                config.steps)
        members = np.arange(n * bank).reshape(n, bank)
    rows = np.where(descents.stopped_at < 0, len(descents.stored_loss) - 1, 0)
    finals = np.where(descents.stopped_at < 0,
                      descents.stored_loss[rows, np.arange(descents.n_runs)], np.inf)
    best = members[np.arange(n), np.argmin(finals[members], axis=1)]
    outcomes = judge_runs(descents.subset(best), engine)
    _judge_by_starts(outcomes, engine, starts)
    return outcomes


def _unit_vector(study: Study, starts: Array) -> Outcomes:
    """Learn u = (cos k theta, sin k theta), k = 2 for a pi-periodic loss (else 1), with
    theta = atan2(u2, u1) / k; u is put back on the unit circle after each step and
    plain SGD steps it with lr k^2, so that a step moves theta as far as the same step
    on theta would: only the parametrisation changes, not the effective lr."""
    config = study.config
    k = 2.0 if period_label(study.period) == "pi" else 1.0
    engine = study.engine(evaluations=len(starts) * config.steps)
    # plain SGD needs lr k^2 for the same step in theta; adaptive optimizers normalise
    # the step themselves, so their lr is left as configured
    rate = config.lr * k * k if config.optimizer == "sgd" else config.lr
    descents = run_descents(engine, config.optimizer_settings, starts[:, None], config.steps,
                            lr=rate, parametrisation=UnitVector(k))
    return judge_runs(descents, engine)


def _coarse_to_fine(study: Study, starts: Array) -> Outcomes:
    """Half the steps on a blurred copy of the data, then the real problem from where
    that ended. Blurring the input and the target output by the same Gaussian is what a
    user can do to their own data (the blur commutes with the layer), and it weights the
    image's spectrum towards low frequencies, where the kernels of nearby orientations
    overlap more: a smoother landscape."""
    config = study.config
    settings = config.optimizer_settings
    coarse_steps = config.steps // 2  # 0 for a 1-step run: then there is no coarse stage
    fine_steps = config.steps - coarse_steps
    first = None
    middle = starts
    if coarse_steps:
        blurred = study.engine(blur=COARSE_BLUR * config.lambd,
                               evaluations=len(starts) * coarse_steps)
        first = run_descents(blurred, settings, starts[:, None], coarse_steps)
        middle = first.final()[:, 0]
        middle = np.where(np.isfinite(middle), middle, starts)
    engine = study.engine(evaluations=len(starts) * fine_steps)
    second = run_descents(engine, settings, middle[:, None], fine_steps)
    outcomes = judge_runs(second, engine)
    _judge_by_starts(outcomes, engine, starts)
    steps = outcomes.steps_to_converge
    recovered = np.array([s is not None for s in steps])
    if recovered.any() and first is not None:  # count from the very start, both stages
        whole = np.concatenate([first.params[:, :, 0], second.params[1:, :, 0]])
        settle = steps_to_settle(whole)
        for b in np.flatnonzero(recovered):
            if first.stopped_at[b] >= 0:  # the first stage ended early
                cut = first.run(int(b)).params[:, 0]
                steps[b] = int(steps_to_settle(np.concatenate([cut, second.params[1:, b, 0]])))
            else:
                steps[b] = int(settle[b])
    return outcomes


# -- the catalogue -----------------------------------------------------------------------

@dataclass(frozen=True)
class Remedy:
    """A known fix: what it changes, why it should help, and how to run it."""

    id: str
    title: str
    why: str
    changes: dict[str, Any]
    run: Callable[[Array], Outcomes]
    config: dict[str, Any] | None = None  # the config fields it sets, when that is all


def _facts(study: Study) -> dict[str, Any]:
    """Curvature and slope at the target, and the spurious minima, of the MSE."""
    study.require_effect()  # else there are no facts: the landscape is flat
    mse = study.variant(loss="mse")
    curvature = stability(mse).mse_curvature
    # a minimum flatter than quadratic (curvature 0) bounds no lr
    return {"mse_curvature": curvature,
            "mse_lr_bound": 2.0 / curvature if curvature > 0 else None,
            "rmse_slope": math.sqrt(max(curvature, 0.0) / 2.0),
            "n_spurious_minima": len(theta_landscape(mse).spurious_minima())}


def _round(value: float, digits: int = 3) -> float:
    """``value`` to ``digits`` significant digits."""
    return float(f"{value:.{digits}g}")


def _curvature_remedies(study: Study, bound: float, curvature: float,
                        plain: Callable[..., Callable[[Array], Outcomes]]) -> list[Remedy]:
    """The remedies set from the curvature at the target: an lr below its bound, and an
    eps that makes rmse smooth with the configured lr at half its bound."""
    config = study.config
    lr = config.lr
    safe_lr = _round(0.5 * bound)  # a value a user types
    eps = _round((lr * curvature / 2.0) ** 2)  # lr half the rmse-eps bound 4 sqrt(eps) / c
    entries: list[Remedy] = []
    entries.append(Remedy(
        "mse-safe-lr", f"MSE with lr = {safe_lr:.3g} (half the bound)",
        f"below the curvature bound 2/{curvature:.3g} = {bound:.3g} plain descent is a "
        "contraction near the minimum",
        {"loss": "mse", "lr": safe_lr, "optimizer": "sgd", "momentum": 0.0},
        plain(safe := {"loss": "mse", "lr": safe_lr, "optimizer": "sgd", "momentum": 0.0,
                       "nesterov": False}), safe))
    if config.loss in ("rmse", "l1"):
        entries.append(Remedy(
            "rmse-eps", f"rmse-eps with eps = {eps:.3g}",
            "sqrt(mse + eps) is smooth at the minimum (curvature c / (2 sqrt eps)); "
            f"eps = {eps:.3g} puts lr {lr:g} at half its bound",
            {"loss": "rmse-eps", "loss_eps": eps},
            plain({"loss": "rmse-eps", "loss_eps": eps}), {"loss": "rmse-eps", "loss_eps": eps}))
    return entries


def _catalogue(study: Study, facts: dict[str, Any]) -> list[Remedy]:
    config = study.config
    bound = facts["mse_lr_bound"]
    curvature = facts["mse_curvature"]
    lr = config.lr
    hold = config.steps // 2
    decay = 1e-6 ** (1.0 / max(config.steps - hold, 1))

    def plain(changes: dict[str, Any], schedule: Callable[[int], float] | None = None
              ) -> Callable[[Array], Outcomes]:
        changed = study.variant(**changes)
        return lambda starts: _plain(changed, starts, schedule)

    entries: list[Remedy] = []
    if config.loss != "mse":
        relation = ("" if bound is None else "below" if lr < bound else f"{lr / bound:.2g} x")
        entries.append(Remedy(
            "mse", "MSE instead of " + config.loss,
            "the MSE gradient vanishes at the minimum, so fixed steps can settle "
            + ("there: the minimum is flatter than quadratic, so no curvature bounds lr"
               if bound is None else
               f"when lr is below 2/curvature = {bound:.3g}; lr {lr:g} is {relation}"
               + (" it" if lr < bound else " that bound")),
            {"loss": "mse"}, plain({"loss": "mse"}), {"loss": "mse"}))
    if bound is not None:
        entries += _curvature_remedies(study, bound, curvature, plain)
    entries.append(Remedy(
        "lr-decay", f"lr constant for {hold} steps, then decayed to 1e-6 x lr",
        f"after the approach, steps shrink by {decay:.4f} per update, so a bounce across a "
        "kink or a too-sharp minimum dies out",
        {"schedule": f"lr x {decay:.5f}^max(0, t - {hold})"},
        plain({}, schedule=lambda t: decay ** max(0, t - hold))))
    entries.append(Remedy(
        "adam", "Adam (lr 1e-3)",
        "normalised steps of about lr: no curvature bound, but the iterate keeps moving by "
        "~lr around the minimum", {"optimizer": "adam", "lr": 1e-3},
        plain(adam := {"optimizer": "adam", "lr": 1e-3, "momentum": 0.0, "nesterov": False}),
        adam))
    entries.append(Remedy(
        "multi-start", "multi-start: 8 angles over the period, keep the best",
        "one of the bank starts in the target's basin, which removes the dependence on "
        "theta0, not what happens inside the basin",
        {"bank": 8}, lambda starts: _multi_start(study, starts, 8)))
    k = "2 theta" if period_label(study.period) == "pi" else "theta"
    entries.append(Remedy(
        "unit-vector", f"learn (cos {k}, sin {k}) instead of theta",
        "equivalent angles become one point, so nothing wraps around; the loss along the "
        "circle, spurious minima and kinks included, is unchanged",
        {"parametrisation": f"(cos {k}, sin {k})"},
        lambda starts: _unit_vector(study, starts)))
    entries.append(Remedy(
        "coarse-to-fine", f"coarse-to-fine: input and target blurred (sigma {COARSE_BLUR:g} "
        "lambda) for half the steps",
        "the blur weights the image towards low frequencies, where kernels of nearby "
        "orientations overlap more: a smoother landscape to start on; the fine stage then "
        "refines",
        {"coarse_blur_sigma": COARSE_BLUR * config.lambd},
        lambda starts: _coarse_to_fine(study, starts)))
    return entries


def run_remedies(study: Study, starts: int = 72,
                 progress: Callable[[int, int], None] | None = None) -> RemediesResult:
    """Run the baseline and every remedy from ``starts`` angles; rank them.

    Ranked by success rate (share of starts that recover the target's kernel), then by
    median steps to converge. ``progress(done, total)`` counts remedies.

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> cfg, _ = resolve_config({"steps": "150", "size": "64", "ksize": "11"})
    >>> result = run_remedies(Study(cfg), starts=8)
    >>> result.baseline.success_rate <= max(r.success_rate for r in result.remedies)
    True
    """
    return study.memo(("remedies", starts), lambda: _run(study, starts, progress))


def _run(study: Study, starts: int, progress: Callable[[int, int], None] | None
         ) -> RemediesResult:
    check_sweep(study, starts, REMEDY_CASES, command="remedies")
    refuse(remedies_cost(study, starts), "--starts/--steps", "use fewer starts or steps, a "
           "smaller image or kernel")
    grid = start_grid(study, starts)
    facts = _facts(study)
    catalogue = _catalogue(study, facts)
    total = len(catalogue) + 1
    baseline = RemedyOutcome("baseline", "the configured experiment", "as configured", {},
                             _plain(study, grid))
    if progress is not None:
        progress(1, total)
    outcomes = []
    for i, remedy in enumerate(catalogue, start=2):
        outcome = RemedyOutcome(remedy.id, remedy.title, remedy.why, remedy.changes,
                                remedy.run(grid), config=remedy.config)
        _compare_failures(baseline, outcome)
        outcomes.append(outcome)
        if progress is not None:
            progress(i, total)
    outcomes.sort(key=lambda o: (-o.success_rate, o.median_steps if o.median_steps is not None
                                 else math.inf))
    return RemediesResult(config=study.config, starts=grid, baseline=baseline,
                          remedies=outcomes, facts=facts)


def _compare_failures(baseline: RemedyOutcome, outcome: RemedyOutcome,
                      floor: float = 0.02) -> None:
    """Which of the baseline's failures a remedy removes or leaves, start by start.

    A failure is removed when the starts that had it (at least ``floor`` of them) now
    recover, all but ``floor``, and it does not appear elsewhere; turning into another
    failure does not count. A failure is left when at least ``floor`` of the starts
    still end in it."""
    n = len(baseline.kinds)
    removes = []
    for kind in FAILURES:
        had = [i for i, k in enumerate(baseline.kinds) if k == kind]
        if len(had) < floor * n:
            continue
        still = sum(outcome.kinds[i] not in RECOVERED for i in had)
        if still < floor * n and outcome.fractions[kind] < floor:
            removes.append(kind)
    outcome.removes = removes
    outcome.leaves = [k for k in FAILURES if outcome.fractions[k] >= floor]
