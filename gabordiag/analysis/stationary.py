"""Stationary points of the loss along one parameter, found from the exact derivative.

With the spectral engine they are the roots of the loss's Fourier series; with the
other engines every sign change of the analytic gradient on a grid of at least
:data:`ROOT_GRID` samples over the span (whatever the number of points asked for),
refined on its bracket. Where a loss is not differentiable at its minimum (``rmse``,
``l1``) the gradient changes sign across the kink and the root finder lands on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..core.scalar import bracketed_root
from ..engines.base import Engine
from ..engines.spectral import SpectralEngine
from ..errors import LimitError

__all__ = ["ROOT_GRID", "StationaryPoint", "find_stationary_points"]

Array = NDArray[np.float64]
ROOT_GRID = 1024  # sign changes of the gradient are looked for on at least this grid


@dataclass
class StationaryPoint:
    """A zero of the derivative along one parameter: position, kind, loss and the
    curvature there."""

    value: float
    kind: str            # "minimum", "maximum" or "inflection"
    loss: float
    curvature: float | None  # None at a kink (rmse, l1 at the target)
    is_global: bool = False
    target_equivalent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain values, with the JSON names of the schema."""
        return {"value": self.value, "kind": self.kind, "loss": self.loss,
                "curvature": self.curvature, "global": self.is_global,
                "target_equivalent": self.target_equivalent}

    def notes(self, target_value: float | None) -> list[str]:
        """What the point is, in words: ``global minimum``, ``target`` (the target's own
        value) or ``target-equivalent``, ``spurious`` (a minimum that is not the
        target's kernel)."""
        notes = ["global minimum"] if self.is_global else []
        if self.target_equivalent:
            exact = target_value is not None and abs(self.value - target_value) < 1e-9
            notes.append("target" if exact else "target-equivalent")
        elif self.kind == "minimum":
            notes.append("spurious")
        return notes


def find_stationary_points(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                           loss: Array, span: tuple[float, float], periodic: bool
                           ) -> list[StationaryPoint]:
    """Every stationary point over ``span`` along coordinate ``j`` (the other
    coordinates at ``base``), classified, with the global minima marked.

    ``grid``, ``grad`` and ``loss`` are the samples; ``periodic`` says the span is one
    period, sampled without its end point.
    """
    low, high = span
    roots = _roots(engine, base, j, grid, grad, periodic, low, high)
    spacing = float(grid[1] - grid[0])
    problem = engine.problem
    points = []
    for value in roots:
        kind, value_loss, value_curv = _classify_point(engine, base, j, value, spacing)
        point = base.copy()
        point[j] = value
        equivalent = bool(problem.gives_target_kernel(point[None, :])[0])
        kink = equivalent and problem.loss.kinked
        points.append(StationaryPoint(value=value, kind=kind, loss=value_loss,
                                      curvature=None if kink else value_curv,
                                      target_equivalent=equivalent))
    _mark_global(points, loss)
    return points


def _roots(engine: Engine, base: Array, j: int, grid: Array, grad: Array, periodic: bool,
           low: float, high: float) -> list[float]:
    angles, period = None, 0.0
    if isinstance(engine, SpectralEngine) and len(base) == 1:
        period = float(engine.period)
        try:
            angles = engine.stationary_angles()
        except LimitError:  # too many intervals to separate: sign changes on a grid
            angles = None
    if angles is not None:
        # exact roots of the Fourier series, repeated over the span by the period
        roots: list[float] = []
        for theta in angles:
            first = theta + period * math.ceil((low - theta) / period)
            values = np.arange(first, high + (0 if periodic else 1e-12), period)
            roots.extend(float(v) for v in values if v < high or not periodic)
        return sorted(roots)
    if len(grid) < ROOT_GRID:  # the roots must not depend on how densely the user samples
        grid = (np.linspace(low, high, ROOT_GRID, endpoint=False) if periodic
                else np.linspace(low, high, ROOT_GRID))
        probes = np.repeat(base[None, :], ROOT_GRID, axis=0)
        probes[:, j] = grid
        grad = engine.loss_and_grad(probes)[1][:, j]
    return _sign_changes(engine, base, j, grid, grad, periodic)


GRADIENT_NOISE = 1e-10  # of the largest |gradient| on the grid: below it, rounding


def _sign_changes(engine: Engine, base: Array, j: int, grid: Array, grad: Array,
                  periodic: bool) -> list[float]:
    """Every sign change of the gradient between grid points, refined on its bracket."""

    def derivative(v: float) -> float:
        point = base.copy()
        point[j] = v
        return float(engine.loss_and_grad(point[None, :])[1][0, j])

    xs, gs = grid, grad
    if periodic:  # close the loop: the last sample's successor is the first + period
        xs = np.append(grid, grid[0] + (grid[-1] - grid[0]) + (grid[1] - grid[0]))
        gs = np.append(grad, grad[0])
    roots = []
    # a change of sign between two gradients at the rounding floor is noise, not a point
    floor = GRADIENT_NOISE * float(np.max(np.abs(gs))) if len(gs) else 0.0
    for i in range(len(xs) - 1):
        a, b = gs[i], gs[i + 1]
        if max(abs(a), abs(b)) <= floor:
            continue
        if a == 0:
            roots.append(float(xs[i]))
        elif a * b < 0:
            try:
                roots.append(bracketed_root(derivative, float(xs[i]), float(xs[i + 1])))
            except ValueError:  # the change of sign does not reproduce: rounding noise of a
                continue        # gradient at its floor (and the period's wrap-around)
    return roots


def _classify_point(engine: Engine, base: Array, j: int, value: float, spacing: float
                    ) -> tuple[str, float, float]:
    """Kind from the loss on both sides (robust at kinks), loss and curvature there."""
    h = min(1e-4, spacing / 4)
    probes = np.repeat(base[None, :], 3, axis=0)
    probes[:, j] = [value - h, value, value + h]
    loss, _, curv = engine.loss_grad_curv(probes)
    if loss[0] > loss[1] and loss[2] > loss[1]:
        kind = "minimum"
    elif loss[0] < loss[1] and loss[2] < loss[1]:
        kind = "maximum"
    else:
        kind = "inflection"
    return kind, float(loss[1]), float(curv[1, j])


def _mark_global(points: list[StationaryPoint], loss: Array) -> None:
    minima = [p for p in points if p.kind == "minimum"]
    if not minima:
        return
    best = min(p.loss for p in minima)
    scale = max(float(np.ptp(loss)), abs(best), 1e-300)
    for p in minima:  # equal to rounding only: a spurious minimum may lie very close;
        # the target's kernel gives the least loss there is, whatever the rounding
        p.is_global = p.target_equivalent or bool(
            p.loss <= best + 64 * np.finfo(float).eps * scale)
