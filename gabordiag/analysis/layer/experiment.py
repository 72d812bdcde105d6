"""The recovery experiment on the user's layer: target = the layer's output with its
orientation parameter at the target value, descent from the start through the layer's
own forward and torch autograd, with gabordiag's optimizers (torch.optim's rules) and
verdicts; the loss over one period of the parameter; and the same experiment on
gabordiag's reference kernel at the parameters fitted to the layer's filter, side by
side.

:class:`LayerEngine` is an :class:`~gabordiag.engines.base.Engine` whose loss is the
layer's output against the target (gabordiag's loss definitions) and whose gradient is
what autograd gives the parameter, so the descent runner and the verdicts read it like
any engine. Its problem's kernel is the layer's effective kernel of the chosen filter
(the verdict's "the target's kernel" means the layer's kernel at the target).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ...config.model import Config
from ...config.params import GaborParams
from ...core.losses import Loss
from ...core.problem import Problem
from ...core.scalar import golden_minimum
from ...core.user import UserKernel
from ...descent.explain import classify
from ...descent.runner import Trajectory, run_descent
from ...descent.verdicts import Verdict
from ...errors import GabordiagError
from ..cost import layer_cost, refuse
from ..landscape import theta_landscape
from ..recover import recover
from ..study import Study
from .fit import GaborFit
from .probe import LayerProbe

__all__ = ["LayerEngine", "LayerLandscape", "LayerRecovery", "layer_engine",
           "layer_landscape", "run_layer_recovery"]

Array = NDArray[np.float64]
LANDSCAPE_POINTS = 72


class LayerEngine:
    """Loss and autograd gradient of the layer's output against a target, as a function
    of one parameter (the flat ``elements`` of ``param``, set together)."""

    name = "torch"

    def __init__(self, probe: LayerProbe, problem: Problem, param: str, elements: list[int],
                 channel: tuple[int, int], target: torch.Tensor) -> None:
        self.probe, self.problem, self.param = probe, problem, param
        self.elements, self.channel, self.target = elements, channel, target
        self.loss_fn: Loss = problem.loss
        self.evaluations = 0
        self.gradient_missing = False  # backward gave the parameter no gradient

    def _one(self, value: float, grad: bool) -> tuple[float, float]:
        o, i = self.channel
        self.evaluations += 1
        with self.probe.changed({self.param: (self.elements, value)}):
            self.probe.module.zero_grad(set_to_none=True)
            out = self.probe.forward(self.probe_image, i, grad=grad)[0, o]
            r = (out - self.target).detach().numpy()
            n = r.size
            if self.loss_fn.mse_family:
                m = np.array(float(np.mean(r * r)))
                f, d1, _ = self.loss_fn.of_mse(m)
                loss, seed = float(f), float(d1) * 2 * r / n
            else:
                rho, d1, _ = self.loss_fn.elementwise(r)
                loss, seed = float(np.mean(rho)), d1 / n
            if not grad:
                return loss, math.nan
            g = None
            if out.requires_grad:  # the vector-Jacobian product with d loss / d out
                (out * torch.tensor(seed)).sum().backward()
                g = self.probe.params[self.param].grad
            if g is None:
                self.gradient_missing = True
                return loss, 0.0
            return loss, float(g.view(-1)[self.elements].sum())

    @property
    def probe_image(self) -> Array:
        """The image the layer filters (the problem's)."""
        return self.problem.image

    def loss_and_grad(self, values: Array) -> tuple[Array, Array]:
        """Loss ``(B,)`` and gradient ``(B, 1)``."""
        rows = [self._one(float(v), True) for v in np.asarray(values).reshape(-1)]
        return np.array([r[0] for r in rows]), np.array([[r[1]] for r in rows])

    def loss(self, values: Array) -> Array:
        """Loss only ``(B,)``."""
        return np.array([self._one(float(v), False)[0] for v in np.asarray(values).reshape(-1)])

    def loss_grad_curv(self, values: Array) -> tuple[Array, Array, Array]:
        """Loss, gradient and curvature (central differences of the gradient)."""
        loss, grad = self.loss_and_grad(values)
        h = 1e-5
        up = self.loss_and_grad(np.asarray(values) + h)[1]
        down = self.loss_and_grad(np.asarray(values) - h)[1]
        return loss, grad, (up - down) / (2 * h)


def layer_engine(probe: LayerProbe, param: str, elements: list[int], channel: tuple[int, int],
                 image: Array, config: Config, fit: GaborFit) -> LayerEngine:
    """The engine of the experiment: the layer's kernel as the problem's model, the
    target output at ``config.target_theta``."""
    o, i = channel

    def kernel(ksize: int, *, sigma: float, theta: float, lambd: float, gamma: float,
               psi: float) -> Array:
        with probe.changed({param: (elements, theta)}):
            return probe.kernel(o, i)

    target = GaborParams(theta=config.target_theta, lambd=fit.lambd, sigma=fit.sigma,
                         gamma=fit.gamma, psi=fit.psi)
    problem = Problem(image=image, ksize=probe.geometry.ksize, target=target,
                      learn=("theta",), loss=Loss(config.loss, eps=config.loss_eps),
                      model=UserKernel(kernel))
    with probe.changed({param: (elements, config.target_theta)}):
        out = probe.forward(image, i)[0, o].clone()
    return LayerEngine(probe, problem, param, elements, channel, out)


@dataclass
class LayerLandscape:
    """The loss and autograd gradient over one period of the parameter, its minima
    (refined on the loss) and maxima, and whether the gradient's sign agrees with the
    loss's slope between samples."""

    grid: Array
    loss: Array
    grad: Array
    period: float
    period_reason: str
    minima: list[dict[str, Any]] = field(default_factory=list)
    maxima: list[float] = field(default_factory=list)
    sign_agreement: float | None = None  # share of the samples with a gradient and a
    #                                      clear slope where their signs agree

    @property
    def spurious_minima(self) -> int:
        """Minima that do not give the target's kernel."""
        return sum(not m["target_equivalent"] for m in self.minima)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"grid": self.grid.tolist(), "loss": self.loss.tolist(),
                "grad": self.grad.tolist(), "period": self.period,
                "period_reason": self.period_reason, "minima": self.minima,
                "maxima": self.maxima, "spurious_minima": self.spurious_minima,
                "gradient_sign_agreement": self.sign_agreement}


def layer_landscape(engine: LayerEngine, points: int = LANDSCAPE_POINTS) -> LayerLandscape:
    """Sample one period centred on the target; refine each local minimum of the samples
    by a golden-section search on the loss (the gradient is what is under test)."""
    problem = engine.problem
    period, reason = problem.theta_period, problem.period_of("theta")[1]
    centre = problem.target.theta
    grid = centre - period / 2 + period * np.arange(points) / points
    loss, grad = engine.loss_and_grad(grid[:, None])
    g = grad[:, 0]
    land = LayerLandscape(grid, loss, g, period, reason)
    step = period / points
    for j in range(points):
        before, after = loss[j - 1], loss[(j + 1) % points]
        if loss[j] < before and loss[j] <= after:
            value, best = golden_minimum(lambda v: float(engine.loss(np.array([v]))[0]),
                                         float(grid[j] - step), float(grid[j] + step),
                                         xtol=1e-9)
            equivalent = bool(problem.gives_target_kernel(np.array([[value]]))[0])
            land.minima.append({"value": value, "loss": best,
                                "target_equivalent": equivalent})
        elif loss[j] > before and loss[j] >= after:
            land.maxima.append(float(grid[j]))
    slope = np.roll(loss, -1) - np.roll(loss, 1)  # central, periodic
    spread = float(np.ptp(loss)) or 1.0
    clear = (np.abs(slope) > 1e-6 * spread) & (g != 0)
    if clear.any():
        land.sign_agreement = float(np.mean(np.sign(g[clear]) == np.sign(slope[clear])))
    return land


@dataclass
class LayerRecovery:
    """The layer's run, its verdict and landscape, and the reference's side by side."""

    param: str
    elements: list[int]
    target: float
    start: float
    trajectory: Trajectory
    verdict: Verdict
    landscape: LayerLandscape
    gradient_missing: bool
    reference_config: Config | None = None
    reference_verdict: Verdict | None = None
    reference_period: float | None = None
    reference_minima: int | None = None
    reference_spurious: int | None = None
    reference_final_loss: float | None = None
    reference_loss: Array | None = None  # its loss on the landscape's grid (your units)
    reference_values: Array | None = None  # its run, mapped into your units
    reference_note: str = ""

    @property
    def departs_at(self) -> int | None:
        """The first step where the layer's run and the reference's (in your units)
        differ by more than 1e-6 (``None``: they agree throughout, or no reference)."""
        if self.reference_values is None:
            return None
        ours, theirs = self.trajectory.params[:, 0], self.reference_values
        n = min(len(ours), len(theirs))
        with np.errstate(invalid="ignore"):
            far = ~(np.abs(ours[:n] - theirs[:n]) <= 1e-6 * np.maximum(1.0, np.abs(theirs[:n])))
        if len(ours) != len(theirs) and not far.any():
            return n
        return int(np.argmax(far)) if far.any() else None

    @property
    def same_as_reference(self) -> bool | None:
        """Whether the layer's verdict is the reference's (``None``: no reference)."""
        if self.reference_verdict is None:
            return None
        return self.verdict.kind == self.reference_verdict.kind

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        t = self.trajectory
        floats = [float(v) if np.isfinite(v) else None for v in t.params[:, 0]]
        out: dict[str, Any] = {
            "param": self.param, "elements": self.elements, "target": self.target,
            "start": self.start, "values": floats,
            "loss": [float(v) if np.isfinite(v) else None for v in t.loss],
            "grads": [float(v) if np.isfinite(v) else None for v in t.grads[:, 0]],
            "verdict": self.verdict.to_dict(), "landscape": self.landscape.to_dict(),
            "gradient_missing": self.gradient_missing, "reference": None}
        if self.reference_verdict is not None and self.reference_config is not None:
            out["reference"] = {"config": self.reference_config.to_dict(),
                                "verdict": self.reference_verdict.to_dict(),
                                "period": self.reference_period,
                                "minima": self.reference_minima,
                                "spurious_minima": self.reference_spurious,
                                "final_loss": self.reference_final_loss,
                                "departs_at": self.departs_at,
                                "loss": None if self.reference_loss is None
                                else self.reference_loss.tolist(),
                                "same_verdict": self.same_as_reference,
                                "note": self.reference_note}
        return out


def _reference(recovery: LayerRecovery, config: Config, ksize: int, boundary: str | None,
               target_fit: GaborFit, slope: float | None) -> None:
    """gabordiag's reference kernel at the fitted parameters, same image, loss, optimizer
    and steps; its target is the layer's target filter, its start the layer's start
    mapped through the measured slope (no reference without one)."""
    if not target_fit.is_gabor:
        recovery.reference_note = (f"your filter is not a Gabor kernel of our form (fit "
                                   f"residual {target_fit.residual:.2g}): no reference run")
        return
    if slope is None:
        recovery.reference_note = ("the orientation parameter does not map onto ours with a "
                                   "constant slope; no reference run")
        return
    start = target_fit.theta + slope * (config.theta0 - config.target_theta)
    ref = replace(config, ksize=ksize, sigma=target_fit.sigma, lambd=target_fit.lambd,
                  gamma=target_fit.gamma, psi=target_fit.psi, target_theta=target_fit.theta,
                  theta0=start, learn=("theta",), boundary=boundary or "valid",
                  kernel=None, derivative=None)
    study = Study(ref)
    run = recover(study)
    recovery.reference_config = ref
    recovery.reference_verdict = run.verdict
    recovery.reference_period = study.period
    land = theta_landscape(study)
    recovery.reference_minima = len(land.minima())
    recovery.reference_spurious = len(land.spurious_minima())
    recovery.reference_final_loss = float(run.trajectory.loss[-1])
    recovery.reference_values = (config.target_theta
                                 + (run.trajectory.params[:, 0] - target_fit.theta) / slope)
    grid = recovery.landscape.grid
    ours = target_fit.theta + slope * (grid - config.target_theta)
    recovery.reference_loss = run.engine.loss(ours[:, None])
    notes = []
    if boundary is None:
        notes.append("your layer's padding is neither none nor ksize // 2; the reference "
                     "uses none")
    recovery.reference_note = "; ".join(notes)


def run_layer_recovery(engine: LayerEngine, config: Config, target_fit: GaborFit,
                       slope: float | None, boundary: str | None) -> LayerRecovery:
    """Descend from ``config.theta0`` to the layer's output at ``config.target_theta``,
    judge the run, sample the landscape, and run the reference beside it."""
    start = np.array([config.theta0])
    began = time.perf_counter()
    engine.loss_and_grad(start[None, :])
    refuse(layer_cost(time.perf_counter() - began, config.steps, LANDSCAPE_POINTS), "--steps",
           "lower --steps or --size (each step runs your layer's forward and backward)")
    trajectory = run_descent(engine, config.optimizer_settings, start, config.steps)
    verdict = classify(trajectory, engine)
    landscape = layer_landscape(engine)
    recovery = LayerRecovery(engine.param, engine.elements, config.target_theta,
                             config.theta0, trajectory, verdict, landscape,
                             engine.gradient_missing)
    try:
        _reference(recovery, config, engine.problem.ksize, boundary, target_fit, slope)
    except GabordiagError as exc:  # e.g. theta has no effect on the fitted kernel
        recovery.reference_verdict = recovery.reference_config = None
        recovery.reference_note = f"no reference run: {exc}"
    return recovery
