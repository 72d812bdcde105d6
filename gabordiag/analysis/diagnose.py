"""``diagnose``: the answer to "where does this break down?", as ranked findings.

Runs what is needed (gradcheck, the landscape, the configured descent, a basins sweep
at the configured lr, the remedies) and lists only the findings that hold for this
setup, each with its measured evidence and the fix, ordered by how much it explains
the observed outcome.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config.choices import RECOVERED
from ..config.model import Config
from ..core.kernel import period_label
from ..descent.cycles import Oscillation, loss_swing
from ..errors import ConfigError
from .answers import Step, answer_questions, debugging_recipe
from .basins import BasinsResult, check_sweep, run_basins
from .cost import diagnose_cost, refuse
from .gradcheck import GradcheckResult, run_gradcheck
from .landscape import LandscapeResult, run_landscape
from .recover import RecoverResult, recover
from .remedies import REMEDY_CASES, RemediesResult, run_remedies
from .stability import Stability, stability
from .study import Study

__all__ = ["SCHEMA", "Diagnosis", "Finding", "diagnose"]

SCHEMA = "gabordiag.diagnose/1"
SEVERITIES = ("high", "medium", "info")


@dataclass
class Finding:
    """One statement about the setup, with the figures behind it and the fix.

    ``weight`` orders findings of the same severity: how much the finding explains
    the observed outcome (larger first)."""

    id: str
    severity: str
    message: str
    evidence: dict[str, Any]
    fix: str | None = None
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"id": self.id, "severity": self.severity, "message": self.message,
                "evidence": self.evidence, "fix": self.fix}


@dataclass
class Diagnosis:
    """The findings and the runs they come from."""

    config: Config
    findings: list[Finding]
    run: RecoverResult
    landscape: LandscapeResult
    basins: BasinsResult
    remedies: RemediesResult
    gradcheck: GradcheckResult
    answers: dict[str, str] = field(default_factory=dict)
    recipe: list[Step] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.diagnose/1)."""
        case = self.basins.cases[0]
        return {"schema": SCHEMA, "config": self.config.to_dict(),
                "findings": [f.to_dict() for f in self.findings],
                "answers": self.answers,
                "recipe": [step.to_dict() for step in self.recipe],
                "verdict": self.run.verdict.to_dict(),
                "basins": {"starts": len(self.basins.starts), **case.summary()},
                "remedies": [{"id": r.id, "success_rate": r.success_rate,
                              "median_steps_to_converge": r.median_steps}
                             for r in self.remedies.remedies],
                "gradcheck_passed": self.gradcheck.passed,
                "gradcheck_result": self.gradcheck.result}


def _angle(value: float) -> str:
    return f"{value:.3f} ({math.degrees(value):.0f}°)"


def diagnose(study: Study, starts: int = 72,
             progress: Callable[[str], None] | None = None) -> Diagnosis:
    """Measure everything the findings need and derive the findings.

    Every stage reads the same study: the image is made once and each Gram matrix
    built once.

    Parameters
    ----------
    study : Study
        The experiment (``learn`` must be ``("theta",)``).
    starts : int
        Starting angles of the basins sweep and the remedies.
    progress : callable, optional
        Called with the name of each stage as it starts.
    """
    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    config = study.config
    if config.learn != ("theta",):
        raise ConfigError("--learn: diagnose studies theta; use --learn theta")
    # every limit before any work (the sweeps' came after minutes of other work)
    check_sweep(study, starts, 1, command="diagnose")
    check_sweep(study, starts, REMEDY_CASES, command="diagnose")
    refuse(diagnose_cost(study, starts), "--starts/--steps", "use fewer starts or steps, a "
           "smaller image or kernel")
    stage("gradcheck")
    grad = run_gradcheck(study, n_random=3, seed=config.seed)
    stage("landscape")
    land = run_landscape(study)
    stage("descent")
    run = recover(study)
    stage("basins")
    basins = run_basins(study, starts=starts)
    stage("remedies")
    remedies = run_remedies(study, starts=starts)
    facts = stability(study) if land.landscape is not None and land.landscape.has_effect \
        else None
    findings = _findings(config, grad, land, run, basins, remedies, facts)
    severity_rank = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: (severity_rank[f.severity], -f.weight))
    result = Diagnosis(config=config, findings=findings, run=run, landscape=land,
                       basins=basins, remedies=remedies, gradcheck=grad)
    if land.landscape is not None and land.landscape.has_effect:
        result.recipe = debugging_recipe(study, grad, land.landscape, run, basins, remedies)
        result.answers = answer_questions(study, grad, land.landscape, run, result.recipe,
                                          basins, remedies)
    return result


def _findings(config: Config, grad: GradcheckResult, land_result: LandscapeResult,
              run: RecoverResult, basins: BasinsResult, remedies: RemediesResult,
              stable: Stability | None) -> list[Finding]:
    land = land_result.landscape
    assert land is not None
    facts = land.facts
    verdict = run.verdict
    kind = verdict.kind
    failed = kind not in RECOVERED
    out: list[Finding] = []

    # Is the code (the derivative) wrong?
    bad = [c for c in grad.checks if c.result == "fail"]
    if bad:  # a failing check was compared at some point: its errors are figures
        worst = max(bad, key=lambda c: c.max_rel_error or 0.0)
        out.append(Finding(
            "derivative-wrong", "high",
            f"the derivative d {worst.what} / d {worst.param} disagrees with finite "
            f"differences (relative error {worst.max_rel_error:.2g})"
            + (f": {worst.diagnosis}" if worst.diagnosis else ""),
            {"failing": [c.param for c in bad], "max_rel_error": worst.max_rel_error},
            "fix the derivative (gabordiag gradcheck shows where)"
            if config.kernel is None or config.derivative is not None else
            "your kernel has no --derivative, so gabordiag differentiates it by finite "
            "differences, which are off here: give --derivative (its analytic derivative)",
            weight=10))
    if grad.unresolved_text():  # not a pass and not a fail: the evidence is missing
        out.append(Finding(
            "derivative-unchecked", "medium" if failed else "info",
            grad.unresolved_text() + ("" if bad else "; none disagrees where they settle"),
            {"unresolved": {f"{c.what} {c.param}": len(c.unresolved_points)
                            for c in grad.checks if c.unresolved_points},
             "points": len(grad.points)}, None, weight=1))

    if not land.has_effect:
        out.append(Finding("no-effect", "high", "theta does not change the kernel: nothing "
                           "to learn", {}, "use an anisotropic envelope or a carrier",
                           weight=10))
        return out

    period = land.period
    start = facts.get("start", {})
    context = "medium" if failed else "info"  # setup facts that matter only on failure
    # The start at (or next to) a maximum of a periodic loss.
    if period_label(period) == "pi":
        distance = start.get("distance_to_target_equivalent")
        out.append(Finding(
            "pi-periodic", context if start.get("at_or_next_to_maximum") else "info",
            f"the loss is pi-periodic because psi = {config.psi:g} (a half turn leaves the "
            f"kernel unchanged), so theta0 = {_angle(config.theta0)} is "
            f"{distance:.3f} rad from the target modulo pi"
            + (" — as far from it as any angle can be" if distance is not None
               and abs(distance - math.pi / 2) < 0.02 else ""),
            {"period": period, "distance_to_target_equivalent": distance,
             "nearest_target_equivalent": start.get("nearest_target_equivalent")},
            "compare angles modulo pi; any theta* + k pi is the target's kernel",
            weight=2))
    if start.get("at_or_next_to_maximum"):
        out.append(Finding(
            "start-at-maximum", "high" if kind == "stalled" else context,
            f"theta0 sits at or near the loss maximum ({start['distance_to_maximum']:.3f} "
            f"rad from the one at {_angle(start['nearest_maximum'])}), where the gradient "
            f"is {start['grad_relative']:.1%} of its largest; its sign, decided by the "
            "image, picks the side descent leaves by",
            {"grad_relative": start["grad_relative"], "loss_relative": start["loss_relative"],
             "nearest_maximum": start["nearest_maximum"]},
            "start elsewhere (multi-start), or accept either equivalent minimum",
            weight=8 if kind == "stalled" else 3))

    basin = facts["target_basin"]
    n_spurious = facts["n_spurious_minima"]
    if n_spurious > 0:
        out.append(Finding(
            "spurious-minima", "high" if kind == "local-minimum" else context,
            f"the landscape has {n_spurious} spurious minim{'um' if n_spurious == 1 else 'a'} "
            f"per period besides the target's; the target's basin is "
            f"{basin['width']:.3f} rad wide"
            + (f" ({basin['width'] / period:.0%} of the period)" if period and basin["width"]
               else ""),
            {"n_spurious_minima": n_spurious, "target_basin_width": basin["width"]},
            "multi-start, or coarse-to-fine (fewer carrier cycles under the envelope)",
            weight=9 if kind == "local-minimum" else 2))

    assert stable is not None
    slope = stable.kink_slope
    lr = config.lr
    mse_bound = stable.mse_lr_bound
    near_target = kind == "cycling" and verdict.evidence.get("minimum_is_target")
    if config.loss in ("rmse", "l1") and slope:
        end = run.gradient.get("end_median") if near_target else None
        explains = bool(near_target)
        out.append(Finding(
            "nonvanishing-gradient", "high" if explains else context,
            str(stable.explain_kink(lr, end, plain=config.plain_sgd)),
            {"one_sided_slope": slope, "end_gradient": end, "step": lr * slope},
            f"use mse with lr < {mse_bound:.3g}, rmse-eps, or decay the lr"
            if mse_bound else "use mse, rmse-eps, or decay the lr",
            weight=10 if explains else 4))
    bounds = stable.bounds
    effective = bounds.sgd_configured
    if effective is not None and config.optimizer == "sgd" and lr > effective:
        out.append(Finding(
            "lr-above-bound", "high" if failed else "medium",
            f"{stable.explain_bound(lr)}; descent overshoots the target's minimum and "
            "cannot converge there",
            {"lr": lr, "bound": effective, "ratio": lr / effective,
             "momentum": config.momentum},
            f"lr < {effective:.3g}", weight=9))
    momentum_text = stable.explain_momentum()
    if momentum_text and config.optimizer == "sgd" and failed:
        out.append(Finding(
            "momentum", "medium",
            f"{momentum_text}; it adds inertia that carries the iterate across the minimum",
            {"momentum": config.momentum, "nesterov": config.nesterov,
             "dampening": config.dampening, "bound": effective, "plain_bound": bounds.sgd},
            "drop momentum or lower the lr", weight=3))

    # What the run did.
    ev = verdict.evidence
    loss_range = loss_swing(ev.get("tail_loss_min", 0.0), ev.get("tail_loss_max", 0.0))
    if kind == "cycling" and ev.get("across_basins"):
        out.append(Finding(
            "cycling", "high",
            f"the run is thrown from basin to basin: over the last {ev['tail_steps']} steps "
            f"theta ranges over {ev['span']:.3g} rad, more than half the period; steps are "
            f"too large for any minimum to hold it; {loss_range}",
            {k: ev.get(k) for k in ("span", "tail_steps", "tail_loss_min", "tail_loss_max")},
            None, weight=7))
    elif kind == "cycling":
        if not ev.get("minimum_found"):
            where = (f"theta = {ev['centre']:.4f}, the orbit's centre (no minimum lies within "
                     "its span)")
        else:
            where = f"theta = {ev['minimum']:.4f}, " + (
                "the target" if ev.get("minimum_is_exact_target") else
                "an angle equivalent to the target" if ev.get("minimum_is_target") else
                "a spurious minimum")
        reason = (stable.explain_hold(lr, config.optimizer)
                  if ev.get("minimum_is_target") else None)
        out.append(Finding(
            "cycling", "high",
            f"the run oscillates around {where}, as "
            f"{Oscillation.from_evidence(ev).describe()}; "
            + (f"{reason}; " if reason else "") + loss_range,
            {k: ev.get(k) for k in ("period", "limit_cycle", "amplitude", "minimum",
                                    "minimum_is_target", "tail_loss_min", "tail_loss_max")},
            None, weight=7))
    elif kind in ("local-minimum", "stalled", "diverged", "not-converged"):
        out.append(Finding(kind, "high", verdict.message, dict(verdict.evidence), None,
                           weight=7))
    elif verdict.started_at_answer:
        out.append(Finding(
            "started-at-answer", "medium",
            "theta0 gives the target's kernel: the run starts on the answer and stays "
            "there, which tests nothing; only the starts over the period say whether "
            "descent recovers", {"start_kernel_error": verdict.evidence["start_kernel_error"]},
            "start away from the target (another --theta0) to test recovery", weight=3))
    else:
        out.append(Finding(
            "recovered", "info",
            f"descent recovers the target's kernel ({kind}): {verdict.message}",
            {"kind": kind}, None, weight=1))

    summary = basins.cases[0].summary()
    success = summary["success_rate"]
    if success < 0.9:
        out.append(Finding(
            "few-starts-recover", "high" if success < 0.5 else "medium",
            f"{'only ' if success else ''}{basins.cases[0].recovered_text()} over the period "
            f"recover at lr {lr:g}; "
            + ", ".join(f"{share:.0%} {k}" for k, share in summary["fractions"].items()
                        if share > 0 and k not in ("converged", "converged-equivalent")),
            {"success_rate": success, "fractions": summary["fractions"]},
            None, weight=5))
    best = [r for r in remedies.remedies if r.success_rate >= 0.9]
    if failed or success < 0.9:
        if best:
            names = ", ".join(f"{r.id} ({r.success_rate:.0%}, median "
                              f"{r.median_steps:.0f} steps)" if r.median_steps is not None
                              else f"{r.id} ({r.success_rate:.0%})" for r in best[:3])
            out.append(Finding(
                "remedies", "high",
                f"measured fixes that recover from ≥ 90% of starts: {names}",
                {"ranking": [r.id for r in remedies.remedies]},
                f"apply {best[0].id}: {best[0].why}", weight=6))
        else:
            out.append(Finding("remedies", "medium", "no single known remedy recovers from "
                               "90% of starts", {"ranking": [r.id for r in remedies.remedies]},
                               None, weight=6))
    if grad.passed:
        largest = max(c.max_rel_error or 0.0 for c in grad.checks)
        out.append(Finding(
            "derivative-ok", "info",
            f"the derivatives are right: kernel and loss gradients agree with finite "
            f"differences (largest relative error {largest:.1e})",
            {"max_rel_error": largest}, None, weight=0))
    if not failed and success >= 0.9:
        for finding in out:  # nothing to fix: context only
            if finding.severity == "info":
                finding.fix = None
    return out

