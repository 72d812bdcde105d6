"""The findings about a user's layer, each drawn from a measurement (the gradient flow,
the fit of its effective kernel, the derivative check, the recovery run) and stated
only when the evidence fits, with what to change in the code."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...config.choices import RECOVERED
from ...config.model import Config, options_of
from ..diagnose import SEVERITIES, Finding

if TYPE_CHECKING:
    from .convention import Convention, ParamMapping
    from .derivs import ParamDerivatives
    from .experiment import LayerRecovery
    from .flow import FlowResult, ParamFlow
    from .probe import Geometry

__all__ = ["layer_findings"]


def _names(params: list[ParamFlow]) -> str:
    return ", ".join(p.name for p in params)


def _flow_findings(flow: FlowResult) -> list[Finding]:
    out = []
    if flow.backward_error:
        out.append(Finding("backward-error", "high",
                           f"backward raised {flow.backward_error}",
                           {"error": flow.backward_error},
                           "make backward run on the layer's output (a custom backward that "
                           "raises, or an in-place change of a tensor autograd saved)",
                           weight=10))
    trained = [p for p in flow.params if p.requires_grad]
    overwritten = [p for p in trained if p.grad == "finite" and not p.used]
    cut = [p for p in trained if p.changes_kernel and p.grad == "none"]
    zero = [p for p in trained if p.changes_kernel and p.grad == "zero"]
    if cut:
        if overwritten:
            cause = (f"the kernel is written into {_names(overwritten)} through .data (which "
                     "gets the gradient instead, see below)")
        else:
            cause = ("the kernel is built under torch.no_grad(), .detach()ed, or written "
                     "through .data into a tensor")
        out.append(Finding(
            "graph-cut", "high",
            f"{_names(cut)} change{'s' if len(cut) == 1 else ''} the kernel the layer "
            f"applies but get{'s' if len(cut) == 1 else ''} no gradient (grad is None; the "
            "autograd graph from the output does not reach "
            f"{'it' if len(cut) == 1 else 'them'}): {cause}; an optimizer never moves "
            f"{'it' if len(cut) == 1 else 'them'}",
            {"params": [p.name for p in cut],
             "kernel_effect": {p.name: p.kernel_effect for p in cut},
             "in_graph": {p.name: p.in_graph for p in cut},
             "receives_instead": [p.name for p in overwritten]},
            "build the kernel from the parameters inside forward and apply it with "
            "F.conv2d(x, kernel): no assignment to .data, no torch.no_grad(), no .detach() "
            f"between {_names(cut)} and the kernel", weight=10))
    if zero:
        out.append(Finding(
            "zero-gradient", "high",
            f"{_names(zero)} change{'s' if len(zero) == 1 else ''} the kernel but "
            f"get{'s' if len(zero) == 1 else ''} a gradient of exactly zero: a step without "
            "a derivative (round, a comparison, argmax, a straight-through cut) lies on the "
            "path", {"params": [p.name for p in zero]},
            f"make the path from {_names(zero)} to the kernel differentiable", weight=9))
    if overwritten:
        norms = ", ".join(f"{p.grad_norm:.3g}" for p in overwritten)
        out.append(Finding(
            "overwritten-parameter", "high",
            f"{_names(overwritten)} get"
            + ("s a gradient (norm " if len(overwritten) == 1 else " gradients (norms ")
            + f"{norms}) but changing {'it' if len(overwritten) == 1 else 'them'} "
            "changes nothing the layer computes: forward overwrites "
            f"{'it' if len(overwritten) == 1 else 'them'}, so an optimizer trains values "
            "the next forward discards",
            {"params": [p.name for p in overwritten],
             "grad_norm": {p.name: p.grad_norm for p in overwritten}},
            f"remove {_names(overwritten)} (apply the built kernel with F.conv2d), or keep "
            f"{'it' if len(overwritten) == 1 else 'them'} out of the optimizer", weight=9))
    grids = [p for p in trained if p.grid is not None and p.grad == "finite"]
    if grids:
        out.append(Finding(
            "trainable-constant", "high",
            "; ".join(f"{p.name} ({'x'.join(map(str, p.shape))}) is a trainable Parameter "
                      f"holding {p.grid}" for p in grids)
            + (", and gets a gradient (norm " if len(grids) == 1 else
               "; they get gradients (norms ")
            + f"{', '.join(f'{p.grad_norm:.3g}' for p in grids)}): "
            "an optimizer moves the pixel coordinates, and the kernel stops being a Gabor "
            "kernel of your parameters",
            {"params": [p.name for p in grids], "grids": {p.name: p.grid for p in grids},
             "grad_norm": {p.name: p.grad_norm for p in grids}},
            "register " + " and ".join(f"self.register_buffer({p.name.split('.')[-1]!r}, ...)"
                                       for p in grids)
            + " instead of nn.Parameter (or create them with requires_grad=False)",
            weight=8))
    unused = [p for p in trained if not p.used and p.grad == "none"]
    if unused:
        out.append(Finding(
            "unused-parameter", "medium",
            f"nothing uses {_names(unused)}: no gradient, and changing "
            f"{'it' if len(unused) == 1 else 'them'} changes nothing the layer computes",
            {"params": [p.name for p in unused]},
            f"use {_names(unused)} in forward, or remove "
            f"{'it' if len(unused) == 1 else 'them'}", weight=4))
    bad = [p for p in trained if p.grad == "nonfinite"]
    if bad:
        out.append(Finding("nonfinite-gradient", "high",
                           f"backward gives {_names(bad)} NaN or infinite gradients",
                           {"params": [p.name for p in bad]},
                           "find the division by zero or the sqrt/log at 0 on their path",
                           weight=10))
    frozen = [p for p in flow.params if not p.requires_grad and p.changes_kernel]
    if frozen:
        out.append(Finding("frozen-parameter", "info",
                           f"{_names(frozen)} change{'s' if len(frozen) == 1 else ''} the "
                           "kernel but do not require grad: fixed in training",
                           {"params": [p.name for p in frozen]}, None, weight=0))
    if not out or all(f.severity == "info" for f in out):
        learned = [p for p in trained if p.changes_kernel]
        out.append(Finding(
            "gradient-flow-ok", "info",
            f"every trainable parameter changes the kernel and gets a finite, non-zero "
            f"gradient ({_names(learned)})",
            {"params": [p.name for p in learned]}, None, weight=0))
    return out


def _derivative_findings(derivs: list[ParamDerivatives], flow: FlowResult,
                         reported: set[str]) -> list[Finding]:
    out = []
    for d in derivs:
        if d.passed or d.param in reported:
            continue
        customs = flow.by_name(d.param).custom_functions
        failed = [c for c in d.checks if not c.passed]
        where = "; ".join(dict.fromkeys(f"{c.point}{' ' + c.where if c.where else ''}"
                                        for c in failed))
        pattern = d.pattern
        if pattern == "sign":
            what = ("is the negative of the central difference of your forward (ratio "
                    f"{d.factor:.4f})")
        elif pattern == "factor":
            what = f"is {d.factor:.4g} times the central difference of your forward"
        elif pattern == "no-change":
            what = "is not zero, but changing it does not change the output"
        elif pattern == "missing":
            what = "is zero where changing it changes the output"
        else:
            what = (f"disagrees with the central difference of your forward (relative error "
                    f"{d.max_rel_error:.2g})")
        through = (f"; {d.param} reaches the output through the custom autograd.Function "
                   f"{', '.join(customs)}, whose hand-written backward computes its gradient"
                   if customs else "")
        if customs:
            change = ("returns the gradient for " + d.param + " with the wrong sign"
                      if pattern == "sign" else f"returns a wrong gradient for {d.param}")
            fix = (f"fix {customs[0]}.backward (it {change}), or drop the custom Function and "
                   "let autograd differentiate the forward; torch.autograd.gradcheck("
                   f"{customs[0]}.apply, ...) checks it")
        else:
            fix = (f"find the operation on {d.param}'s path whose gradient is wrong (a custom "
                   "backward, a register_hook that rescales the gradient)")
        out.append(Finding(
            "derivative-wrong", "high",
            f"autograd's derivative of the output with respect to {d.param} {what}, in "
            f"{len(failed)} of {len(d.checks)} checks ({where}){through}",
            {"param": d.param, "pattern": pattern, "factor": d.factor,
             "max_rel_error": d.max_rel_error, "checks": len(d.checks),
             "failed": len(failed), "custom_functions": customs}, fix, weight=9))
    if derivs and all(d.passed for d in derivs):
        worst = max(d.max_rel_error for d in derivs)
        count = sum(len(d.checks) for d in derivs)
        out.append(Finding(
            "derivatives-ok", "info",
            "autograd agrees with central differences of your forward for every parameter "
            f"that gets a gradient ({count} checks, largest relative error {worst:.1e})",
            {"checks": count, "max_rel_error": worst}, None, weight=0))
    return out


_ANGLE_FIX = {
    "xy-swap": ("build the grid with x along the columns and y down the rows: "
                "y, x = torch.meshgrid(coords, coords, indexing='ij')"),
    "opposite": "let y point down the rows (image order), or negate theta",
    "offset": "remove the offset from the angle, or read our theta as yours plus it",
    "degrees": "take the angle in radians",
}
_ANGLE_WORDS = {
    "xy-swap": "x and y are exchanged (your kernel is the transpose of OpenCV's at the same "
               "theta): theta is measured from the other axis",
    "opposite": "the angle is measured the other way (y pointing up)",
    "offset": "the angle is offset",
    "degrees": "the angle is taken in degrees",
}


def _mapping_finding(m: ParamMapping) -> Finding | None:
    if m.matches or m.kind == "none" or m.ours is None:
        return None
    evidence: dict[str, Any] = {"param": m.param, "ours": m.ours, "kind": m.kind,
                                "relation": m.relation, "value": m.value, "fitted": m.fitted}
    if m.kind in _ANGLE_WORDS:
        return Finding(f"convention-{m.kind}", "medium",
                       f"{_ANGLE_WORDS[m.kind]}: our {m.ours} = {m.relation.split('= ', 1)[1]} "
                       f"(your {m.param} = {m.value:.4g} is our {m.ours} = {m.fitted:.4g})",
                       evidence, _ANGLE_FIX[m.kind] + " if you meant OpenCV's convention",
                       weight=3)
    if m.kind in ("angular-frequency", "frequency"):
        unit = "radians per pixel" if m.kind == "angular-frequency" else "cycles per pixel"
        return Finding(f"convention-{m.kind}", "medium",
                       f"{m.param} is a frequency ({unit}), not a wavelength: {m.relation} "
                       f"(your {m.param} = {m.value:.4g} is our lambda = {m.fitted:.4g}); "
                       "descent on a frequency moves the kernel differently from descent "
                       "on a wavelength", evidence,
                       f"keep it if you meant it, and read our lambda as "
                       f"{m.relation.split('= ', 1)[1]}; "
                       "learn the wavelength instead if you compare with OpenCV or gabordiag",
                       weight=2)
    return Finding("convention-parameter", "medium",
                   f"{m.param} is not our {m.ours}: {m.relation} (your {m.value:.4g} is our "
                   f"{m.fitted:.4g})", evidence,
                   f"express {m.param} as our {m.ours} if you meant OpenCV's convention",
                   weight=2)


def _convention_findings(c: Convention, loss: str) -> list[Finding]:
    fit = c.fit
    o, i = c.channel
    if not fit.is_gabor:
        return [Finding(
            "not-gabor", "high" if fit.residual > 1e-3 else "medium",
            f"the kernel filter ({o}, {i}) applies is not a Gabor kernel of the form "
            "exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda + psi): the best "
            f"fit leaves a relative residual of {fit.residual:.2g}",
            {"residual": fit.residual, "fit": fit.to_dict()},
            "compare your kernel formula with that one (gabordiag kernel draws ours)",
            weight=5)]
    out = [f for f in (_mapping_finding(m) for m in c.mappings) if f is not None]
    if c.normalisation is not None or abs(fit.amplitude - 1) > 1e-6:
        named = c.normalisation or f"{fit.amplitude:.6g}"
        power = "" if loss == "mse" else " (for mse its square)"
        sigma = c.mapping_of_ours("sigma")
        coupling = (f"; its amplitude changes with sigma (d ln A / d ln {sigma.param} = "
                    f"{sigma.amplitude_exponent:.3g}), so sigma's gradient carries the "
                    "normalisation too" if sigma is not None and sigma.amplitude_exponent
                    and abs(sigma.amplitude_exponent) > 1e-6 else "")
        out.append(Finding(
            "normalisation", "medium",
            f"the kernel is scaled by {named} = {fit.amplitude:.4g} (OpenCV's and ours peak "
            f"at 1): the output and the {loss} are {fit.amplitude:.3g} times a unit-amplitude "
            f"kernel's{power}, and so is every gradient, which scales the effective learning "
            f"rate{coupling}",
            {"amplitude": fit.amplitude, "normalisation": c.normalisation},
            "drop the normalisation, or scale the learning rate to make up for it",
            weight=3))
    shift = c.centre_shift
    if shift is not None:
        out.append(Finding(
            "centre-shift", "medium",
            f"the kernel's centre is off by {shift[0]:g} row(s) and {shift[1]:g} column(s) "
            "from the array's centre (ksize // 2): the coordinate grid is built off by one",
            {"dy": shift[0], "dx": shift[1]},
            "build the coordinates as torch.arange(ksize) - ksize // 2", weight=3))
    if not out:
        names = ", ".join(m.param for m in c.mappings)
        out.append(Finding(
            "convention-matches", "info",
            f"filter ({o}, {i}) is gabordiag's (OpenCV's) Gabor kernel at your parameters: "
            f"{names} map one to one, amplitude 1, centred (fit residual "
            f"{fit.residual_text})", {"fit": fit.to_dict()}, None, weight=0))
    return out


def _rounded(config: Config) -> Config:
    """The config with the fitted values at 6 significant digits (the default where
    that is within 1e-6 of it), for a command line."""
    defaults = Config()

    def short(name: str) -> float:
        value, default = getattr(config, name), getattr(defaults, name)
        return default if abs(value - default) <= 1e-6 * max(1.0, abs(default)) \
            else float(f"{value:.6g}")

    return replace(config, sigma=short("sigma"), lambd=short("lambd"), gamma=short("gamma"),
                   psi=short("psi"), target_theta=short("target_theta"),
                   theta0=short("theta0"))


def _recovery_findings(r: LayerRecovery, config: Config, c: Convention) -> list[Finding]:
    v = r.verdict
    setup = (f"{config.loss}, {config.optimizer} lr {config.lr:g}, {config.steps} steps, "
             f"{r.param} from {r.start:.4g} to the target {r.target:.4g}")
    evidence: dict[str, Any] = {"verdict": v.kind, "period": r.landscape.period,
                                "minima": len(r.landscape.minima),
                                "spurious_minima": r.landscape.spurious_minima,
                                "gradient_sign_agreement": r.landscape.sign_agreement,
                                "gradient_missing": r.gradient_missing}
    message = f"your layer's descent ({setup}): {v.kind}. {v.message}"
    causes = []
    if r.gradient_missing:
        causes.append(f"{r.param} gets no gradient, so it never moves")
    agreement = r.landscape.sign_agreement
    if agreement is not None and agreement < 0.9:
        causes.append(f"the autograd gradient points uphill at {1 - agreement:.0%} of the "
                      "landscape's samples")
    amplitude = c.fit.amplitude
    if c.fit.is_gabor and abs(amplitude - 1) > 1e-6:
        causes.append(f"your kernel's amplitude {amplitude:.3g} scales the loss and its "
                      "gradient, hence each step")
    if c.fit.is_gabor and c.centre_shift is not None:
        causes.append(f"your kernel's centre is off by {c.centre_shift[0]:g}, "
                      f"{c.centre_shift[1]:g} pixels, the reference's is not, so the two "
                      "outputs are not the same pixels")
    mapping = c.mapping_of(r.param)
    if mapping is not None and mapping.slope is not None and abs(abs(mapping.slope) - 1) > 1e-4:
        causes.append(f"the start and the target are in your {r.param}'s units (one unit "
                      f"of it is {mapping.slope:.4g} rad of our theta); give --theta0 and "
                      "--target-theta in them")
    ref = r.reference_verdict
    fix = None
    severity = "info" if v.kind in RECOVERED else "medium"
    if ref is not None and r.reference_config is not None:
        period = "pi" if r.reference_period and abs(r.reference_period - math.pi) < 1e-9 \
            else "2pi"
        evidence.update(reference_verdict=ref.kind, reference_period=r.reference_period,
                        reference_spurious_minima=r.reference_spurious)
        message += (f" gabordiag's reference kernel at the fitted parameters (same image, "
                    f"loss and optimizer): {ref.kind}, period {period}, "
                    f"{r.reference_spurious} spurious minim"
                    f"{'um' if r.reference_spurious == 1 else 'a'}")
        options = " ".join(options_of(_rounded(r.reference_config)))
        departs = r.departs_at
        evidence["departs_at"] = departs
        if departs is None:
            message += (f"; your run follows the reference's step for step (all "
                        f"{r.trajectory.n_steps} steps within 1e-6): the outcome comes from the "
                        "loss, the optimizer and the landscape, not from your code")
            severity = "info"
            if v.kind not in RECOVERED:
                fix = f"see the remedies: gabordiag diagnose {options}"
        else:
            same = "the same verdict, but" if v.kind == ref.kind else "a different outcome:"
            message += (f"; {same} your run leaves the reference's path at step {departs}, so "
                        "your code changes what descent does")
            severity = "high" if v.kind != ref.kind and v.kind not in RECOVERED else "medium"
            fix = "fix the findings above, then run gabordiag layer again"
        if r.reference_note:
            message += f" ({r.reference_note})"
    elif r.reference_note:
        message += f" ({r.reference_note})"
    if causes:
        message += "; " + "; ".join(causes)
    return [Finding("recovery", severity, message, evidence, fix, weight=6)]


def layer_findings(flow: FlowResult, convention: Convention,
                   derivatives: list[ParamDerivatives], geometry: Geometry,
                   linearity: dict[str, Any], recovery: LayerRecovery | None,
                   recovery_note: str, config: Config) -> list[Finding]:
    """Every finding the measurements support, ranked."""
    out = _flow_findings(flow)
    reported = set()
    for f in out:
        if f.id in ("graph-cut", "zero-gradient", "overwritten-parameter"):
            reported |= set(f.evidence["params"])
    out += _derivative_findings(derivatives, flow, reported)
    linear = bool(linearity.get("linear"))
    if not linear:
        error = linearity.get("relative_error")
        g = geometry
        sizes = ("" if g.stride_one else
                 f"; its output for a {g.probe}x{g.probe} input is {g.out_size}x{g.out_size}, "
                 f"which no stride-1 convolution with a {g.ksize}x{g.ksize} kernel gives "
                 "(a stride, pooling or cropping?)")
        out.append(Finding(
            "not-linear", "medium",
            "the layer's output on the image is not the correlation of the image with its "
            "impulse response" + (f" (relative difference {error:.2g})" if error else "")
            + sizes + ": it is not a linear shift-invariant filter (a nonlinearity, a stride "
            "or a normalisation of the input?), so its impulse response describes it only "
            "at an impulse, and its parameters' convention is not assessed",
            {**linearity, "stride_one": g.stride_one, "out_size": g.out_size}, None,
            weight=2))
    conventions = _convention_findings(convention, config.loss)
    out += conventions if linear else [f for f in conventions if f.id == "not-gabor"]
    if recovery is not None:
        out += _recovery_findings(recovery, config, convention)
    elif recovery_note:
        out.append(Finding("no-recovery", "medium", recovery_note, {}, None, weight=1))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    out.sort(key=lambda f: (rank[f.severity], -f.weight))
    return out
