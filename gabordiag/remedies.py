"""The known remedies for a failing recovery, each run over starting angles and ranked.

Every remedy is a measured change to the experiment (loss, learning rate, schedule,
optimizer, starts, parametrisation, coarse-to-fine), run from the same grid of starts
as ``basins`` and judged by the same :func:`~gabordiag.trajectory.classify`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .basins import judge_run, judge_runs, start_grid, steps_to_settle
from .errors import ConfigError
from .experiment import Config
from .images import gaussian_blur
from .landscape import compute_landscape
from .optim import make_optimizer
from .recover import build_problem, loss_period, make_engine_for, require_effect
from .trajectory import VERDICTS, Descents, run_descents

__all__ = ["SCHEMA", "RemediesResult", "RemedyOutcome", "run_remedies"]

SCHEMA = "gabordiag.remedies/1"
Array = NDArray[np.float64]
COARSE_BLUR = 0.25  # blur width of the coarse stage, in carrier wavelengths
FAILURES = ("cycling", "local-minimum", "stalled", "diverged", "not-converged")


@dataclass
class RemedyOutcome:
    """What a remedy did over the starts."""

    id: str
    title: str
    why: str
    changes: dict[str, Any]
    kinds: list[str]
    steps_to_converge: list[int | None]
    removes: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)

    @property
    def fractions(self) -> dict[str, float]:
        """Share of starts per verdict kind."""
        return {kind: self.kinds.count(kind) / len(self.kinds) for kind in VERDICTS}

    @property
    def success_rate(self) -> float:
        """Share of starts that recovered the target's kernel."""
        f = self.fractions
        return f["converged"] + f["converged-equivalent"]

    @property
    def median_steps(self) -> float | None:
        """Median steps to converge over the runs that converged (a start already at
        the target does not count)."""
        steps = [s for s in self.steps_to_converge if s]
        return float(np.median(steps)) if steps else None

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

def _plain(config: Config, starts: Array, schedule: Callable[[int], float] | None = None
           ) -> tuple[list[str], list[int | None]]:
    engine = make_engine_for(build_problem(config), config, evaluations=len(starts) * config.steps)
    descents = run_descents(engine, config.optimizer_settings, starts[:, None], config.steps,
                            schedule=schedule)
    return judge_runs(descents, engine)


def _multi_start(config: Config, starts: Array, bank: int) -> tuple[list[str], list[int | None]]:
    """A bank of ``bank`` angles around each start (evenly over the period); keep the run
    with the lowest final loss."""
    period = loss_period(config) or 2 * math.pi
    offsets = period * np.arange(bank) / bank
    grid = (starts[:, None] + offsets[None, :]).ravel()
    engine = make_engine_for(build_problem(config), config, evaluations=len(grid) * config.steps)
    descents = run_descents(engine, config.optimizer_settings, grid[:, None], config.steps)
    kinds, steps = [], []
    for i in range(len(starts)):
        runs = [descents.run(i * bank + k) for k in range(bank)]
        finals = [r.loss[-1] if r.stopped_at is None else np.inf for r in runs]
        kind, settled = judge_run(runs[int(np.argmin(finals))], engine)
        kinds.append(kind)
        steps.append(settled)
    return kinds, steps


def _unit_vector(config: Config, starts: Array) -> tuple[list[str], list[int | None]]:
    """Learn u = (cos k theta, sin k theta), k = 2 for a pi-periodic loss (else 1), with
    theta = atan2(u2, u1) / k; u is put back on the unit circle after each step and
    plain SGD steps it with lr k^2, so that a step moves theta as far as the same step
    on theta would: only the parametrisation changes, not the effective lr."""
    k = 2.0 if (loss_period(config) or 0) == math.pi else 1.0
    engine = make_engine_for(build_problem(config), config, evaluations=len(starts) * config.steps)
    u = np.stack([np.cos(k * starts), np.sin(k * starts)], axis=1)
    optimizer = make_optimizer(config.optimizer_settings)
    n, steps = len(starts), config.steps
    thetas = np.full((steps + 1, n, 1), np.nan)
    losses = np.full((steps + 1, n), np.nan)
    grads = np.full((steps + 1, n, 1), np.nan)
    stopped = np.full(n, -1, dtype=np.int64)
    # unwrap theta continuously so that the trajectory does not jump by the period
    previous = starts.copy()
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            raw = np.arctan2(u[:, 1], u[:, 0]) / k
            period = 2 * math.pi / k
            theta = previous + (raw - previous + period / 2) % period - period / 2
            previous = theta
            loss, grad = engine.loss_and_grad(theta[:, None])
            thetas[t, :, 0], losses[t], grads[t] = theta, loss, grad
            bad = (stopped < 0) & ~np.isfinite(loss)
            stopped[bad] = t
            if t == steps:
                break
            r2 = np.sum(u * u, axis=1)
            dtheta_du = np.stack([-u[:, 1], u[:, 0]], axis=1) / (k * r2[:, None])
            # plain SGD needs lr k^2 for the same step in theta; adaptive optimizers
            # normalise the step themselves, so their lr is left as configured
            rate = config.lr * k * k if config.optimizer == "sgd" else config.lr
            u = optimizer.step(u, grad[:, :1] * dtheta_du, rate)
            u = u / np.linalg.norm(u, axis=1, keepdims=True)
    return judge_runs(Descents(("theta",), thetas, losses, grads, stopped), engine)


def _coarse_to_fine(config: Config, starts: Array) -> tuple[list[str], list[int | None]]:
    """Half the steps on a blurred copy of the data, then the real problem from where
    that ended. Blurring the input and the target output by the same Gaussian is what a
    user can do to their own data (the blur commutes with the layer), and it weights the
    image's spectrum towards low frequencies, where the kernels of nearby orientations
    overlap more: a smoother landscape."""
    coarse = replace(config, steps=config.steps // 2)
    problem = build_problem(coarse)
    blurred = replace(problem, image=gaussian_blur(problem.image, COARSE_BLUR * config.lambd))
    engine = make_engine_for(blurred, coarse, evaluations=len(starts) * coarse.steps)
    first = run_descents(engine, coarse.optimizer_settings, starts[:, None], coarse.steps)
    middle = np.array([first.run(b).params[-1, 0] for b in range(len(starts))])
    middle = np.where(np.isfinite(middle), middle, starts)
    fine = replace(config, steps=config.steps - coarse.steps)
    engine = make_engine_for(build_problem(fine), fine, evaluations=len(starts) * fine.steps)
    second = run_descents(engine, fine.optimizer_settings, middle[:, None], fine.steps)
    kinds, steps = judge_runs(second, engine)
    for b, s in enumerate(steps):
        if s is not None:  # count from the very start, across both stages
            whole = np.concatenate([first.run(b).params[:, 0], second.run(b).params[1:, 0]])
            steps[b] = steps_to_settle(whole)
    return kinds, steps


# -- the catalogue -----------------------------------------------------------------------

def _facts(config: Config) -> dict[str, Any]:
    """Curvature and slope at the target, from the MSE landscape."""
    mse = replace(config, loss="mse")
    problem = build_problem(mse)
    require_effect(problem)  # else there are no facts: the landscape is flat
    engine = make_engine_for(problem, mse, evaluations=2000)
    land = compute_landscape(engine, "theta", points=256)
    curvature = land.facts["mse_curvature_at_target"]
    return {"mse_curvature": curvature, "mse_lr_bound": 2.0 / curvature,
            "rmse_slope": math.sqrt(max(curvature, 0.0) / 2.0),
            "n_spurious_minima": land.facts["n_spurious_minima"]}


def _catalogue(config: Config, facts: dict[str, Any]
               ) -> list[tuple[str, str, str, dict[str, Any], Callable[[Array], Any]]]:
    bound = facts["mse_lr_bound"]
    curvature = facts["mse_curvature"]
    safe_lr = 0.5 * bound
    lr = config.lr
    eps = (lr * curvature / 2.0) ** 2  # makes lr half the rmse-eps bound 4 sqrt(eps) / c
    hold = config.steps // 2
    decay = 1e-6 ** (1.0 / max(config.steps - hold, 1))
    entries: list[tuple[str, str, str, dict[str, Any], Callable[[Array], Any]]] = []

    def plain(changes: dict[str, Any], schedule: Callable[[int], float] | None = None
              ) -> Callable[[Array], Any]:
        changed = replace(config, **changes)
        return lambda starts: _plain(changed, starts, schedule)

    if config.loss != "mse":
        relation = ("below" if lr < bound else f"{lr / bound:.2g} x")
        entries.append(("mse", "MSE instead of " + config.loss,
                        "the MSE gradient vanishes at the minimum, so fixed steps can settle "
                        f"when lr is below 2/curvature = {bound:.3g}; lr {lr:g} is {relation}"
                        + (" it" if lr < bound else " that bound"),
                        {"loss": "mse"}, plain({"loss": "mse"})))
    entries.append(("mse-safe-lr", f"MSE with lr = {safe_lr:.3g} (half the bound)",
                    f"below the curvature bound 2/{curvature:.3g} = {bound:.3g} plain descent "
                    "is a contraction near the minimum",
                    {"loss": "mse", "lr": safe_lr, "optimizer": "sgd", "momentum": 0.0},
                    plain({"loss": "mse", "lr": safe_lr, "optimizer": "sgd",
                           "momentum": 0.0, "nesterov": False})))
    if config.loss in ("rmse", "l1"):
        entries.append(("rmse-eps", f"rmse-eps with eps = {eps:.3g}",
                        "sqrt(mse + eps) is smooth at the minimum (curvature c / (2 sqrt eps));"
                        f" eps = {eps:.3g} puts lr {lr:g} at half its bound",
                        {"loss": "rmse-eps", "loss_eps": eps},
                        plain({"loss": "rmse-eps", "loss_eps": eps})))
    entries.append(("lr-decay", f"lr constant for {hold} steps, then decayed to 1e-6 x lr",
                    f"after the approach, steps shrink by {decay:.4f} per update, so a bounce "
                    "across a kink or a too-sharp minimum dies out",
                    {"schedule": f"lr x {decay:.5f}^max(0, t - {hold})"},
                    plain({}, schedule=lambda t: decay ** max(0, t - hold))))
    entries.append(("adam", "Adam (lr 1e-3)",
                    "normalised steps of about lr: no curvature bound, but the iterate keeps "
                    "moving by ~lr around the minimum", {"optimizer": "adam", "lr": 1e-3},
                    plain({"optimizer": "adam", "lr": 1e-3, "momentum": 0.0,
                           "nesterov": False})))
    entries.append(("multi-start", "multi-start: 8 angles over the period, keep the best",
                    "one of the bank starts in the target's basin, which removes the "
                    "dependence on theta0, not what happens inside the basin",
                    {"bank": 8}, lambda starts: _multi_start(config, starts, 8)))
    k = "2 theta" if (loss_period(config) or 0) == math.pi else "theta"
    entries.append(("unit-vector", f"learn (cos {k}, sin {k}) instead of theta",
                    "equivalent angles become one point, so nothing wraps around; the loss "
                    "along the circle, spurious minima and kinks included, is unchanged",
                    {"parametrisation": f"(cos {k}, sin {k})"},
                    lambda starts: _unit_vector(config, starts)))
    entries.append(("coarse-to-fine", f"coarse-to-fine: input and target blurred "
                    f"(sigma {COARSE_BLUR:g} lambda) for half the steps",
                    "the blur weights the image towards low frequencies, where kernels of "
                    "nearby orientations overlap more: a smoother landscape to start on; "
                    "the fine stage then refines",
                    {"coarse_blur_sigma": COARSE_BLUR * config.lambd},
                    lambda starts: _coarse_to_fine(config, starts)))
    return entries


def run_remedies(config: Config, starts: int = 72,
                 progress: Callable[[int, int], None] | None = None) -> RemediesResult:
    """Run the baseline and every remedy from ``starts`` angles; rank them.

    Ranked by success rate (share of starts that recover the target's kernel), then by
    median steps to converge. ``progress(done, total)`` counts remedies.

    Examples
    --------
    >>> from gabordiag.experiment import resolve_config
    >>> cfg, _ = resolve_config({"steps": "150", "size": "64", "ksize": "11"})
    >>> result = run_remedies(cfg, starts=8)
    >>> result.baseline.success_rate <= max(r.success_rate for r in result.remedies)
    True
    """
    if config.learn != ("theta",):
        raise ConfigError("--learn: remedies sweep starting angles and need --learn theta")
    grid = start_grid(config, starts)
    facts = _facts(config)
    catalogue = _catalogue(config, facts)
    total = len(catalogue) + 1
    kinds, steps = _plain(config, grid)
    baseline = RemedyOutcome("baseline", "the configured experiment", "as configured", {},
                             kinds, steps)
    if progress is not None:
        progress(1, total)
    outcomes = []
    for i, (rid, title, why, changes, runner) in enumerate(catalogue, start=2):
        kinds, steps = runner(grid)
        outcome = RemedyOutcome(rid, title, why, changes, kinds, steps)
        _compare_failures(baseline, outcome)
        outcomes.append(outcome)
        if progress is not None:
            progress(i, total)
    outcomes.sort(key=lambda o: (-o.success_rate, o.median_steps if o.median_steps is not None
                                 else math.inf))
    return RemediesResult(config=config, starts=grid, baseline=baseline, remedies=outcomes,
                          facts=facts)


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
        still = sum(outcome.kinds[i] not in ("converged", "converged-equivalent")
                    for i in had)
        if still < floor * n and outcome.fractions[kind] < floor:
            removes.append(kind)
    outcome.removes = removes
    outcome.leaves = [k for k in FAILURES if outcome.fractions[k] >= floor]


