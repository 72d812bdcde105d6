"""Gradient flow through the user's layer: for every named parameter, whether it
requires a gradient, what backward gives it (none, zero, non-finite, a value), whether
changing it changes the kernel the layer applies or its bias (measured by nudging it
and comparing impulse responses), whether the autograd graph from the output reaches
it, through which custom ``autograd.Function`` it does, and whether its values are a
coordinate grid.

The scalar that is differentiated is a fixed random projection of the layer's output
on the image, ``s = sum(out * W)``: every parameter that changes the output changes
``s`` (for almost every ``W``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .probe import LayerProbe

__all__ = ["EFFECT_RTOL", "FlowResult", "ParamFlow", "Projection", "describe_grid",
           "gradient_flow"]

Array = NDArray[np.float64]
EFFECT_RTOL = 1e-9  # a nudge of 1e-3 changing the responses by less than this: no effect
NUDGE = 1e-3


@dataclass
class Projection:
    """``s = sum(layer(image in channel i) * W)``: the scalar backward starts from."""

    probe: LayerProbe
    image: Array
    channel: int
    weights: torch.Tensor

    @classmethod
    def build(cls, probe: LayerProbe, image: Array, channel: int, seed: int = 0
              ) -> Projection:
        """The projection with ``W`` standard normal (seeded) in the output's shape."""
        out = probe.forward(image, channel)
        rng = np.random.default_rng(seed)
        weights = torch.tensor(rng.standard_normal(tuple(out.shape)))
        return cls(probe, image, channel, weights)

    def value(self) -> float:
        """``s`` at the layer's current parameters."""
        return float((self.probe.forward(self.image, self.channel) * self.weights).sum())

    def magnitude(self) -> float:
        """``sum |out * W|``: the scale of the rounding error of ``s``."""
        out = self.probe.forward(self.image, self.channel)
        return float((out * self.weights).abs().sum())

    def backward(self) -> tuple[torch.Tensor, str | None]:
        """The output (with its graph) and the error backward raised, if any; the
        gradients are left on the parameters."""
        self.probe.module.zero_grad(set_to_none=True)
        out = self.probe.forward(self.image, self.channel, grad=True)
        s = (out * self.weights).sum()
        if not s.requires_grad:
            return out, None  # nothing in the graph: every grad stays None
        try:
            s.backward()
        except Exception as exc:
            return out, f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        return out, None


@dataclass
class ParamFlow:
    """What one named parameter gets and does."""

    name: str
    shape: tuple[int, ...]
    requires_grad: bool
    grad: str                    # "none", "zero", "nonfinite" or "finite"
    grad_norm: float | None
    kernel_effect: float         # relative change of the impulse responses for a nudge
    offset_effect: float         # relative change of the output for a zero input
    in_graph: bool               # the autograd graph from the output reaches it
    custom_functions: list[str] = field(default_factory=list)
    grid: str | None = None      # a description when its values are a coordinate grid

    @property
    def changes_kernel(self) -> bool:
        """Whether changing it changes the kernel the layer applies."""
        return self.kernel_effect > EFFECT_RTOL

    @property
    def used(self) -> bool:
        """Whether changing it changes anything the layer computes."""
        return self.changes_kernel or self.offset_effect > EFFECT_RTOL

    @property
    def numel(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape)) if self.shape else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"name": self.name, "shape": list(self.shape),
                "requires_grad": self.requires_grad, "grad": self.grad,
                "grad_norm": self.grad_norm, "kernel_effect": self.kernel_effect,
                "offset_effect": self.offset_effect, "changes_kernel": self.changes_kernel,
                "used": self.used, "in_graph": self.in_graph,
                "custom_functions": self.custom_functions, "grid": self.grid}


@dataclass
class FlowResult:
    """Every parameter's flow, and the error backward raised (if it did)."""

    params: list[ParamFlow]
    backward_error: str | None = None

    def by_name(self, name: str) -> ParamFlow:
        """The flow of parameter ``name``."""
        return next(p for p in self.params if p.name == name)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"params": [p.to_dict() for p in self.params],
                "backward_error": self.backward_error}


def describe_grid(values: Array) -> str | None:
    """``"a coordinate grid ..."`` when ``values`` are an arithmetic progression
    (``arange``/``linspace``) or a meshgrid of one (constant along one axis, evenly
    spaced along the other), else ``None``."""
    v = np.squeeze(np.asarray(values, dtype=np.float64))
    if v.ndim == 3 and v.shape[0] <= 3:  # a stack of grids (x, y)
        parts = [describe_grid(part) for part in v]
        return f"{v.shape[0]} coordinate grids" if all(parts) else None
    if v.ndim == 1 and v.size >= 3:
        step = np.diff(v)
        if step[0] != 0 and np.allclose(step, step[0], rtol=1e-9, atol=0):
            return (f"a coordinate grid: {v[0]:g} .. {v[-1]:g} in steps of "
                    f"{float(step[0]):.4g}")
        return None
    if v.ndim == 2 and min(v.shape) >= 3:
        for axis, along in ((0, "columns"), (1, "rows")):
            line = v[0] if axis == 0 else v[:, 0]
            constant = np.allclose(v, v[:1] if axis == 0 else v[:, :1], rtol=1e-12, atol=0)
            step = np.diff(line)
            if constant and step[0] != 0 and np.allclose(step, step[0], rtol=1e-9, atol=0):
                return (f"a coordinate grid varying along the {along}: {line[0]:g} .. "
                        f"{line[-1]:g} in steps of {float(step[0]):.4g}")
    return None


def _graph(out: torch.Tensor) -> tuple[set[int], dict[int, list[str]]]:
    """Ids of the parameters the graph from ``out`` reaches, and per parameter the
    custom autograd.Functions on a path to it."""
    root = out.grad_fn
    if root is None:
        return set(), {}
    below: dict[int, set[int]] = {}
    customs: dict[int, set[str]] = {}
    order: list[Any] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    seen: set[int] = set()
    nodes: dict[int, Any] = {}
    while stack:  # post-order, iterative (graphs can be deep)
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes[id(node)] = node
        stack.append((node, True))
        for child, _ in getattr(node, "next_functions", ()):
            if child is not None and id(child) not in seen:
                stack.append((child, False))
    custom_type = torch.autograd.function.BackwardCFunction
    for node in order:
        leaves: set[int] = set()
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
        for child, _ in getattr(node, "next_functions", ()):
            if child is not None:
                leaves |= below.get(id(child), set())
        below[id(node)] = leaves
        if isinstance(node, custom_type):
            name = type(node).__name__.removesuffix("Backward")
            for leaf in leaves:
                customs.setdefault(leaf, set()).add(name)
    return below[id(root)], {k: sorted(v) for k, v in customs.items()}


def _relative(a: Array, b: Array, scale: float) -> float:
    return float(np.linalg.norm(a - b)) / scale if scale > 0 else float(np.linalg.norm(a - b))


def gradient_flow(projection: Projection, seed: int = 1) -> FlowResult:
    """Measure every parameter's gradient and effect (see the module's docstring)."""
    probe = projection.probe
    probe.restore()
    out, error = projection.backward()
    grads = {name: (None if p.grad is None else p.grad.detach().numpy().copy())
             for name, p in probe.params.items()}
    reached, customs = _graph(out)
    ids = {name: id(p) for name, p in probe.params.items()}
    probe.restore()
    channels = range(probe.in_channels)
    base = np.concatenate([probe.responses(i) for i in channels])
    base_offset = probe.offsets()
    scale = float(np.linalg.norm(base))
    offset_scale = scale + float(np.linalg.norm(base_offset))
    rng = np.random.default_rng(seed)
    flows = []
    for name, param in probe.params.items():
        values = probe.value(name)
        direction = rng.standard_normal(values.shape) if values.ndim else rng.standard_normal()
        step = NUDGE * max(1.0, float(np.max(np.abs(values))) if values.size else 1.0)
        nudged = (values + step * np.asarray(direction)).ravel()
        with probe.changed({name: (list(range(values.size)), nudged)}):
            moved = np.concatenate([probe.responses(i) for i in channels])
            moved_offset = probe.offsets()
        grad = grads[name]
        if grad is None:
            status, norm = "none", None
        elif not np.all(np.isfinite(grad)):
            status, norm = "nonfinite", None
        else:
            norm = float(np.linalg.norm(grad))
            status = "zero" if norm == 0 else "finite"
        flows.append(ParamFlow(
            name=name, shape=tuple(int(n) for n in param.shape),
            requires_grad=bool(param.requires_grad), grad=status, grad_norm=norm,
            kernel_effect=_relative(moved, base, scale),
            offset_effect=_relative(moved_offset, base_offset, offset_scale),
            in_graph=ids[name] in reached, custom_functions=customs.get(ids[name], []),
            grid=describe_grid(values) if values.size >= 3 else None))
    return FlowResult(flows, error)
