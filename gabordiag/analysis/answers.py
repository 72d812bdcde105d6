"""The four questions of the original report, answered from the measurements, and a
numbered debugging recipe for the case: the commands to run next and what each shows
(every "shows" is what this diagnosis measured, not a promise)."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from typing import Any

from ..config.choices import RECOVERED
from ..config.model import options_of
from ..core.kernel import period_label
from .basins import BasinsResult
from .gradcheck import GradcheckResult
from .landscape import Landscape
from .recover import RecoverResult, recover
from .remedies import RemediesResult, RemedyOutcome
from .study import Study

__all__ = ["QUESTIONS", "Step", "answer_questions", "debugging_recipe"]

QUESTIONS = ("is the derivative wrong", "is there a reachable minimum", "is the code wrong",
             "how to debug it")


@dataclass
class Step:
    """One step of the recipe: a command and what it shows for this case."""

    command: str
    shows: str
    verdict: str | None = None  # the verdict of the run a recover step makes

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"command": self.command, "shows": self.shows}


def _angle(value: float) -> str:
    return f"{value:.4f} ({math.degrees(value):.1f}°)"


def _command(name: str, options: list[str], *extra: str) -> str:
    return " ".join(["gabordiag", name, *(shlex.quote(o) for o in options), *extra])


def _derivatives(grad: GradcheckResult) -> str:
    if grad.passed:
        largest = max(c.max_rel_error or 0.0 for c in grad.checks)
        return (f"every derivative (kernel and loss) agrees with central differences at "
                f"{len(grad.points)} points (largest relative error {largest:.1e})")
    bad = [c for c in grad.checks if c.result == "fail"]
    if not bad:
        return ("no derivative disagrees with central differences where they settle; "
                + grad.unresolved_text())
    worst = max(bad, key=lambda c: c.max_rel_error or 0.0)
    return (f"d {worst.what} / d {worst.param} disagrees with central differences "
            f"(relative error {worst.max_rel_error:.2g}"
            + (f"; {worst.diagnosis}" if worst.diagnosis else "") + ")"
            + (f", and {len(bad) - 1} other derivative(s)" if len(bad) > 1 else ""))


def _landscape_shows(land: Landscape) -> str:
    parts = [f"the loss is {period_label(land.period) or 'not'}-periodic in theta; "
             f"{len(land.minima())} minim{'um' if len(land.minima()) == 1 else 'a'} and "
             f"{len(land.maxima())} maxim{'um' if len(land.maxima()) == 1 else 'a'} per "
             f"period, {len(land.spurious_minima())} of the minima spurious"]
    start = land.start
    if start is not None:
        where = (f"theta0 = {_angle(start.value)} is {start.distance_to_maximum:.3f} rad from "
                 f"the maximum at {_angle(start.nearest_maximum)}"
                 if start.nearest_maximum is not None and start.distance_to_maximum is not None
                 else f"theta0 = {_angle(start.value)}")
        minimum = start.basin.minimum
        if minimum is not None:
            kind = "the target's" if minimum.target_equivalent else "a spurious"
            where += f"; its basin leads to {kind} minimum at {_angle(minimum.value)}"
        parts.append(where)
    stable = land.stability
    if stable is not None and stable.kink_slope is not None:
        parts.append(f"at the minimum the {stable.loss} has a kink of slope "
                     f"±{stable.kink_slope:.3g}")
    elif stable is not None and stable.bounds.sgd is not None:
        parts.append(f"the curvature at the target is "
                     f"{stable.loss_curvature or stable.mse_curvature:.4g}, "
                     f"so plain SGD is stable for lr < {stable.bounds.sgd:.3g}")
    return "; ".join(parts)


def best_fix(remedies: RemediesResult) -> RemedyOutcome | None:
    """The highest-ranked remedy that is a plain change of the config."""
    return next((r for r in remedies.remedies if r.config is not None
                 and r.success_rate > remedies.baseline.success_rate), None)


def _best_remedies(remedies: RemediesResult) -> str:
    best = remedies.remedies[0]
    text = f"the best, {best.id}, recovers {best.recovered_text()}"
    fix = best_fix(remedies)
    if fix is not None and fix is not best:
        text += (f"; the best plain change of the config, {fix.id}, recovers "
                 f"{fix.recovered_text()}")
    return text


def debugging_recipe(study: Study, grad: GradcheckResult, land: Landscape,
                     run: RecoverResult, basins: BasinsResult,
                     remedies: RemediesResult) -> list[Step]:
    """The commands to run next for this case, each with what this diagnosis measured
    it shows."""
    config = study.config
    options = options_of(config)
    n = len(basins.starts)
    summary = basins.cases[0].summary()
    steps = [
        Step(_command("gradcheck", options), _derivatives(grad)),
        Step(_command("landscape", options, "--plot", "landscape.png", "--trajectory"),
             _landscape_shows(land)),
        Step(_command("recover", options, "--plot", "run.png"),
             f"{run.verdict.kind}: {run.verdict.message}"),
        Step(_command("basins", options, "--starts", str(n)),
             f"{basins.cases[0].recovered_text()} over the period recover at "
             f"lr {config.lr:g}"),
    ]
    if run.verdict.kind in RECOVERED and summary["success_rate"] >= 0.9:
        return steps
    ranking = ", ".join(f"{r.id} {r.success_rate:.0%}" for r in remedies.remedies[:3])
    steps.append(Step(_command("remedies", options, "--starts", str(n)),
                      f"the known fixes ranked over the same starts: {ranking}"))
    fix = best_fix(remedies)
    if run.verdict.started_at_answer:  # a fix run from the answer would test nothing
        return steps
    if fix is not None and fix.config is not None:
        fixed = study.variant(**fix.config)
        result = recover(fixed)
        fixed_options = options_of(fixed.config)
        steps.append(Step(_command("recover", fixed_options),
                          f"{fix.id} from theta0: {result.verdict.kind}: "
                          f"{result.verdict.message}", result.verdict.kind))
        if result.verdict.recovered:  # a fix to keep in CI only when it fixes this run
            steps.append(Step(_command("config", ["show", *fixed_options]) + " > fixed.toml",
                              "the fixed experiment as a file: add an [expect] table (verdict "
                              f"= \"{result.verdict.kind}\") and `gabordiag check fixed.toml` "
                              "keeps it fixed in CI"))
    return steps


def answer_questions(study: Study, grad: GradcheckResult, land: Landscape,
                     run: RecoverResult, recipe: list[Step], basins: BasinsResult,
                     remedies: RemediesResult) -> dict[str, str]:
    """Short answers to the four questions, each from the evidence."""
    failed = run.verdict.kind not in RECOVERED
    global_min = [p for p in land.minima() if p.is_global]
    spurious = len(land.spurious_minima())
    if global_min and all(p.target_equivalent for p in global_min):
        reachable = (f"yes: the global minimum is the target's kernel (loss "
                     f"{global_min[0].loss:.3g} at theta = {_angle(global_min[0].value)})")
    else:
        reachable = "no minimum found along theta is the target's"
    if spurious:
        competes = "um competes" if spurious == 1 else "a compete"
        reachable += f"; {spurious} spurious minim{competes} with it"
    start = land.start
    if start is not None and start.basin.minimum is not None:
        kind = ("the target's" if start.basin.minimum.target_equivalent else
                "a spurious")
        reachable += (f"; from theta0 gradient flow leads to {kind} minimum at "
                      f"{_angle(start.basin.minimum.value)}")
    comparison = grad.kernel_comparison
    if comparison is None:
        code = ("the kernel is the reference convention (OpenCV's getGaborKernel, tested) "
                "and its derivatives agree with finite differences" if grad.passed else
                f"the derivative is wrong: {_derivatives(grad)}" if grad.result == "fail"
                else "the kernel is the reference convention (OpenCV's getGaborKernel, "
                f"tested); its derivatives: {_derivatives(grad)}")
    else:
        code = comparison.summary() + ("; its derivatives agree with finite differences"
                                       if grad.passed else f"; {_derivatives(grad)}")
    if grad.passed:
        code = ("no: " if comparison is None or comparison.agrees else "") + code + (
            f"; the failure is the optimisation ({run.verdict.kind})" if failed else
            "; the run starts on the target, so it does not test the optimisation"
            if run.verdict.started_at_answer else "; descent recovers the target")
    debug = f"run the {len(recipe)} steps below; "
    fixed = recipe[5].verdict if len(recipe) > 5 else None
    if fixed in RECOVERED:
        debug += "step 6 is the measured fix"
    elif fixed is not None:
        fix = best_fix(remedies)
        assert fix is not None
        debug += (f"step 6 runs the best plain change of the config, {fix.id} (it recovers "
                  f"{fix.recovered_text()}, as configured "
                  f"{remedies.baseline.recovered_text()}), but from theta0 it ends "
                  f"{fixed}; step 5 ranks every remedy")
    elif run.verdict.started_at_answer:
        debug += (f"theta0 is on the target, so the run from it tests nothing; "
                  f"{basins.cases[0].recovered_text()} over the period recover"
                  + ("" if len(recipe) == 4 else "; step 5 ranks the remedies: "
                     + _best_remedies(remedies)))
    elif len(recipe) == 4:
        debug += "nothing needs fixing: recovery works"
    else:
        debug += ((f"descent from theta0 recovers the target, but "
                   f"{basins.cases[0].recovered_text()} recover; " if not failed else "")
                  + "no plain change of the config does better; step 5 ranks the "
                  "remedies: " + _best_remedies(remedies))
    return dict(zip(QUESTIONS, [
        {"pass": "no: ", "fail": "yes: ", "unresolved": "not known: "}[grad.result]
        + _derivatives(grad),
        reachable, code, debug]))
