"""The user's layer, loaded and probed: its parameters, its forward on an image, and the
kernels it really applies, measured from its impulse responses.

A conv layer cross-correlates: an impulse at input pixel ``(r0, c0)`` gives the output
``out[y, x] = K[r0 + p - y, c0 + p - x]`` (``p`` its padding), the kernel flipped. The
kernel is read back from the response's support (the bounding box of its non-zero
values, completed to an odd square) and flipped, whatever the padding; the padding is
what the sizes of input and output then imply. Every probe restores the parameters
and buffers afterwards, also when forward writes into them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ...core.user import load_callable
from ...errors import ConfigError

__all__ = ["Geometry", "LayerProbe", "load_layer"]

Array = NDArray[np.float64]
PROBE_SIZES = (65, 129, 257)  # impulse inputs, until the response fits inside
LINEAR_RTOL = 1e-9  # output = correlation with the measured kernels to this: a linear filter


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


@dataclass(frozen=True)
class Geometry:
    """How the layer maps an input to an output: channels, the kernel's size (the
    support of its impulse response) and the padding its output size implies."""

    in_channels: int
    out_channels: int
    ksize: int
    padding: float  # (H_out - H + ksize - 1) / 2; an integer for a stride-1 conv
    probe: int      # side of the impulse input
    box: tuple[int, int]  # top-left output index of the kernel's box
    out_size: int = 0  # side of the output for the impulse input

    @property
    def stride_one(self) -> bool:
        """Whether the sizes are those of a stride-1 convolution (padding a whole number
        of pixels, at least 0)."""
        return self.padding >= 0 and self.padding == int(self.padding)

    @property
    def boundary(self) -> str | None:
        """``valid`` (no padding), ``same`` (``ksize // 2``) or ``None`` (other)."""
        if self.padding == 0:
            return "valid"
        if self.padding == self.ksize // 2:
            return "same"
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "ksize": self.ksize, "padding": self.padding, "boundary": self.boundary,
                "stride_one": self.stride_one}


def load_layer(spec: str) -> torch.nn.Module:
    """Call the factory ``spec`` names and check that it returns a ``torch.nn.Module``
    with parameters; errors are one line naming ``SPEC``."""
    factory = load_callable(spec, "SPEC")
    try:
        module = factory()
    except Exception as exc:
        raise ConfigError(f"SPEC: {spec}() raised {_one_line(exc)}") from None
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(f"SPEC: {spec}() returned {type(module).__name__}, not a "
                          "torch.nn.Module")
    if not list(module.parameters()):
        raise ConfigError(f"SPEC: {spec}() returned a {type(module).__name__} without "
                          "parameters: nothing is learned")
    return module.double().eval()


class LayerProbe:
    """Forward, impulse responses and parameter changes of one layer (float64)."""

    def __init__(self, module: torch.nn.Module, spec: str = "") -> None:
        self.module = module
        self.spec = spec
        self.params: dict[str, torch.nn.Parameter] = dict(module.named_parameters())
        self._state = self._snapshot()
        self.in_channels = self._input_channels()
        self.geometry = self._measure_geometry()

    # -- state ---------------------------------------------------------------------------
    def _snapshot(self) -> dict[str, torch.Tensor]:
        tensors = {**dict(self.module.named_parameters()), **dict(self.module.named_buffers())}
        return {name: t.detach().clone() for name, t in tensors.items()}

    def restore(self) -> None:
        """Put every parameter and buffer back to the values it had when loaded."""
        tensors = {**dict(self.module.named_parameters()), **dict(self.module.named_buffers())}
        with torch.no_grad():
            for name, t in tensors.items():
                t.data = self._state[name].clone()
                if isinstance(t, torch.nn.Parameter):
                    t.grad = None

    def value(self, name: str) -> Array:
        """A parameter's values as loaded."""
        return np.asarray(self._state[name].numpy(), dtype=np.float64)

    @contextlib.contextmanager
    def changed(self, changes: dict[str, tuple[list[int], Array | float]]) -> Iterator[None]:
        """Within the block, parameter ``name``'s flat elements ``idx`` hold ``values``
        (the others as loaded); everything is restored after it."""
        self.restore()
        try:
            with torch.no_grad():
                for name, (idx, values) in changes.items():
                    flat = self.params[name].data.view(-1)
                    flat[idx] = torch.tensor(np.broadcast_to(values, (len(idx),)),
                                             dtype=flat.dtype)
            yield
        finally:
            self.restore()

    # -- forward ---------------------------------------------------------------------------
    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        try:
            out = self.module(batch)
        except Exception as exc:
            raise ConfigError(f"SPEC: the module fails on a {tuple(batch.shape)} input: "
                              f"{_one_line(exc)}") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 4 or out.shape[0] != batch.shape[0]:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(f"SPEC: the module returned {shape} for a "
                              f"{tuple(batch.shape)} input; expected an (N, C, H, W) tensor")
        return out

    def _input_channels(self) -> int:
        """1, or else the first ``in_channels`` a submodule declares that works."""
        declared = {getattr(m, "in_channels", None) for m in self.module.modules()}
        candidates = [1, *sorted({c for c in declared if isinstance(c, int)} - {1})]
        first_error: ConfigError | None = None
        for channels in candidates:
            try:
                with torch.no_grad():
                    self._run(torch.zeros(1, channels, PROBE_SIZES[0], PROBE_SIZES[0]))
                return channels
            except ConfigError as exc:
                first_error = first_error or exc
            finally:
                self.restore()
        assert first_error is not None
        raise first_error

    def forward(self, image: Array, channel: int, grad: bool = False) -> torch.Tensor:
        """The layer's output ``(1, O, H', W')`` for ``image`` in input channel
        ``channel`` (the other channels zero); with ``grad`` the graph is kept."""
        batch = torch.zeros(1, self.in_channels, *image.shape)
        batch[0, channel] = torch.as_tensor(image)
        if grad:
            return self._run(batch)
        with torch.no_grad():
            return self._run(batch)

    def responses(self, channel: int, size: int | None = None) -> Array:
        """Impulse responses ``(O, H', W')`` from input channel ``channel`` (the
        response to zero subtracted: a bias is not part of the kernel)."""
        side = size or self.geometry.probe
        impulse = np.zeros((side, side))
        impulse[side // 2, side // 2] = 1.0
        out = self.forward(impulse, channel).numpy()[0]
        zero = self.forward(np.zeros((side, side)), channel).numpy()[0]
        return np.asarray(out - zero, dtype=np.float64)

    def offsets(self) -> Array:
        """The output for a zero input (a bias), ``(O, H', W')``."""
        side = self.geometry.probe
        return np.asarray(self.forward(np.zeros((side, side)), 0).numpy()[0],
                          dtype=np.float64)

    # -- kernels ----------------------------------------------------------------------------
    def _measure_geometry(self) -> Geometry:
        for side in PROBE_SIZES:
            stack = np.concatenate([self.responses(i, side) for i in range(self.in_channels)])
            if not np.all(np.isfinite(stack)):
                raise ConfigError("SPEC: the layer's output is NaN or infinite for a finite "
                                  f"input (an impulse on a {side}x{side} zero image): check "
                                  "its forward() and its parameters' values")
            support = np.argwhere(np.any(stack != 0, axis=0))
            out_channels = stack.shape[0] // self.in_channels
            h_out = stack.shape[1]
            if len(support) == 0:
                raise ConfigError("SPEC: the layer's impulse response is zero: it does not "
                                  "filter its input (is the kernel all zeros?)")
            (r1, c1), (r2, c2) = support.min(axis=0), support.max(axis=0)
            inside = r1 > 0 and c1 > 0 and r2 < stack.shape[1] - 1 and c2 < stack.shape[2] - 1
            if inside:
                k = max(r2 - r1, c2 - c1) + 1
                k += 1 - k % 2  # an odd square
                # centre the square on the support's box
                top = int(r1 - (k - (r2 - r1 + 1)) // 2)
                left = int(c1 - (k - (c2 - c1 + 1)) // 2)
                return Geometry(self.in_channels, out_channels, int(k),
                                float(h_out - side + k - 1) / 2, side, (top, left), h_out)
        raise ConfigError(f"SPEC: the layer's impulse response reaches the border of a "
                          f"{PROBE_SIZES[-1]}x{PROBE_SIZES[-1]} input: it is not a local "
                          "filter (a kernel larger than 255?)")

    def kernels(self, channel: int) -> Array:
        """The correlation kernels ``(O, k, k)`` the layer applies to input channel
        ``channel``: its impulse responses in the kernel's box, flipped."""
        g = self.geometry
        top, left = g.box
        r = self.responses(channel)
        rows = slice(max(top, 0), top + g.ksize)
        cols = slice(max(left, 0), left + g.ksize)
        box = np.zeros((r.shape[0], g.ksize, g.ksize))
        part = r[:, rows, cols]
        box[:, rows.start - top:rows.start - top + part.shape[1],
            cols.start - left:cols.start - left + part.shape[2]] = part
        return np.asarray(box[:, ::-1, ::-1])

    def kernel(self, out_channel: int, in_channel: int) -> Array:
        """The kernel ``(k, k)`` of one filter."""
        return self.kernels(in_channel)[out_channel]

    def elements_of(self, name: str, out_channel: int, in_channel: int,
                    limit: int = 256) -> list[int]:
        """The flat elements of parameter ``name`` that change filter ``(o, i)``
        (each nudged by 1e-4 of its size in turn); ``[]`` when none does, or when the
        parameter has more than ``limit`` elements."""
        values = self.value(name).ravel()
        if values.size > limit:
            return []
        base = self.kernel(out_channel, in_channel)
        scale = float(np.linalg.norm(base)) or 1.0
        found = []
        for e in range(values.size):
            step = 1e-4 * max(1.0, abs(float(values[e])))
            with self.changed({name: ([e], values[e] + step)}):
                moved = self.kernel(out_channel, in_channel)
            if float(np.linalg.norm(moved - base)) > 1e-9 * scale:
                found.append(e)
        return found


    def linearity(self, image: Array, channel: int) -> dict[str, Any]:
        """Whether the output on ``image`` (minus the output on zeros) is the correlation
        of ``image`` with the measured kernels, and with which padding: the layer is then
        a linear shift-invariant filter and its kernels say everything it does."""
        g = self.geometry
        out = (self.forward(image, channel) - self.forward(np.zeros_like(image), channel))[0]
        result: dict[str, Any] = {"linear": False, "padding_mode": None,
                                  "relative_error": None}
        pad = int(g.padding)
        if pad != g.padding or pad < 0 or pad >= g.ksize:
            return result
        weight = torch.tensor(np.ascontiguousarray(self.kernels(channel)))[:, None]
        x = torch.tensor(image)[None, None]
        best = math.inf
        for mode in ("zeros", "circular", "reflect", "replicate"):
            if mode == "zeros":
                padded = torch.nn.functional.pad(x, (pad,) * 4)
            elif pad < min(image.shape):
                padded = torch.nn.functional.pad(x, (pad,) * 4, mode=mode)
            else:
                continue
            predicted = torch.nn.functional.conv2d(padded, weight)[0]
            if predicted.shape != out.shape:
                continue
            error = float((predicted - out).norm() / max(float(out.norm()), 1e-300))
            if error < best:
                best = error
                result.update(relative_error=error, padding_mode=mode)
            if error < LINEAR_RTOL:
                result["linear"] = True
                break
        return result
