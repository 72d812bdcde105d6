"""User-supplied kernels and derivatives (``--kernel``, ``--derivative``).

A user kernel has the signature of :func:`gabordiag.gabor_kernel`::

    def kernel(ksize, *, sigma, theta, lambd, gamma, psi) -> ndarray  # (ksize, ksize)

and a user derivative returns d kernel / d ``param`` with the same arguments plus
``param`` (one of theta, lambda, sigma, gamma, psi)::

    def derivative(ksize, *, sigma, theta, lambd, gamma, psi, param) -> ndarray

Both are named ``module:function`` (a module importable from the current directory)
or ``path/to/file.py:function``. Naming one imports and runs it: it is code like any
other, with this process's rights.

The user's code runs isolated from our output: what it prints goes to stderr (stdout
carries ``--json``), ``sys.exit()`` or an exception in it is a one-line error naming the
option, a result that is not a real float array is refused (integers, complex values
with an imaginary part, text) or converted with a note (float32, complex with a zero
imaginary part, an object array of numbers), and its warnings are collected: each is
reported once (:func:`code_notes`), not once per call.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config.choices import LENGTH_PARAMS, PARAM_NAMES
from ..errors import ConfigError
from ..io import not_a_regular_file
from .kernel import kernel_derivatives, theta_period

__all__ = ["KernelModel", "UserKernel", "clear_code_notes", "code_notes", "load_callable"]

Array = NDArray[np.float64]
# finite-difference steps: first derivatives (central), second derivatives (central)
FD_STEP = 1e-6
FD_STEP2 = 1e-4
# The largest kernel value used: squared and summed over 255 x 255 pixels (times an image
# of standardised values) it stays well inside float64.
MAX_KERNEL_VALUE = 1e100


# What the user's code did that is worth one line each: its warnings, conversions of what
# it returned. A message -> how many times (a kernel is called thousands of times).
_NOTES: dict[str, int] = {}


def code_notes() -> list[str]:
    """What the user's code did worth saying, each once (with how often it happened)."""
    return [message + (f" ({count} times)" if count > 1 else "")
            for message, count in _NOTES.items()]


def clear_code_notes() -> None:
    """Forget the notes (a new command starts)."""
    _NOTES.clear()


def _note(message: str) -> None:
    _NOTES[message] = _NOTES.get(message, 0) + 1


@contextlib.contextmanager
def _isolated(option: str) -> Iterator[None]:
    """Run the user's code: its prints go to stderr, its warnings become notes, and
    ``sys.exit()`` or an exception becomes a one-line error naming ``option``. Ctrl-C and
    termination pass through."""
    try:
        with contextlib.redirect_stdout(sys.stderr), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except SystemExit as exc:
        raise ConfigError(f"{option}: your code called sys.exit({exc.code!r}); a kernel or "
                          "derivative must return an array") from None
    except ConfigError:
        raise
    except Exception as exc:  # the user's error: say so in one line
        raise ConfigError(f"{option}: your code raised {type(exc).__name__}: {exc}"
                          ) from None
    for w in caught:
        _note(f"{option}: your code warned: {w.category.__name__}: {w.message}")


def load_callable(spec: str, option: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``file.py:function``; errors name the option.

    The import runs the module's code (:func:`_isolated`: prints to stderr, failures as
    one line)."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{option}: invalid value {spec!r}; expected module:function or "
                          "path/to/file.py:function")
    if module_name.endswith(".py"):
        path = Path(module_name)
        words = not_a_regular_file(path)
        if words is not None:
            raise ConfigError(f"{option}: file {path} {words}")
    try:
        with _isolated(option):
            if module_name.endswith(".py"):
                name = f"_gabordiag_user_{abs(hash(str(path.resolve())))}"
                spec_obj = importlib.util.spec_from_file_location(name, path)
                if spec_obj is None or spec_obj.loader is None:
                    raise ConfigError(f"{option}: cannot load {path}")
                module = importlib.util.module_from_spec(spec_obj)
                spec_obj.loader.exec_module(module)
            else:
                if "" not in sys.path and "." not in sys.path:
                    sys.path.insert(0, "")
                module = importlib.import_module(module_name)
    except ConfigError as exc:  # the import failed: say so in one line
        text = str(exc)
        if text.startswith(f"{option}: your code raised"):
            text = text.replace(f"{option}: your code raised",
                                f"{option}: cannot import {module_name!r}:", 1)
        raise ConfigError(text) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise ConfigError(f"{option}: {module_name!r} has no function {attr!r}")
    return function  # type: ignore[no-any-return]


class KernelModel:
    """The built-in Gabor kernel with analytic derivatives."""

    name = "gabor"
    analytic = True

    def theta_period(self, ksize: int, params: Mapping[str, float]) -> tuple[float, str]:
        """The kernel's period in theta and why: pi when ``sin(psi) == 0``, else 2 pi."""
        psi = params["psi"]
        if theta_period(psi) == math.pi:
            return math.pi, (f"psi = {psi:g} is a multiple of pi, so the kernel is "
                             "symmetric under a half turn: g(theta + pi) = g(theta)")
        return 2 * math.pi, (f"psi = {psi:g} is not a multiple of pi, so a half turn "
                             "changes the kernel (cos(-a + psi) != cos(a + psi)); only 2pi "
                             "returns it")

    def derivatives(self, ksize: int, params: Mapping[str, ArrayLike],
                    names: tuple[str, ...] | list[str], order: int = 1
                    ) -> tuple[Array, dict[str, Array]]:
        """Kernels ``(B, k, k)`` and derivatives for broadcast parameter arrays."""
        return kernel_derivatives(ksize, params, names, order)


@dataclass
class UserKernel(KernelModel):
    """A user's kernel; derivatives from the user's callable or finite differences."""

    kernel_fn: Callable[..., Any]
    derivative_fn: Callable[..., Any] | None = None
    name: str = "user"  # type: ignore[misc]

    @property
    def analytic(self) -> bool:  # type: ignore[override]
        """Whether first derivatives come from the user's derivative callable."""
        return self.derivative_fn is not None

    def theta_period(self, ksize: int, params: Mapping[str, float]) -> tuple[float, str]:
        """The period in theta measured on samples of the user's kernel: pi when a half
        turn leaves it unchanged at 8 angles (to 1e-9 relative), else 2 pi."""
        angles = np.linspace(0.0, np.pi, 8, endpoint=False) + 0.1

        def repeats(shift: float) -> bool:
            for theta in angles:
                a = self.kernel(ksize, {**params, "theta": float(theta)})
                b = self.kernel(ksize, {**params, "theta": float(theta + shift)})
                if np.linalg.norm(a - b) > 1e-9 * max(float(np.linalg.norm(a)), 1e-300):
                    return False
            return True

        if repeats(math.pi):
            return math.pi, ("measured on samples of your kernel: a half turn leaves it "
                             "unchanged (K(theta + pi) = K(theta) at 8 angles)")
        if repeats(2 * math.pi):
            return 2 * math.pi, ("measured on samples of your kernel: a half turn changes "
                                 "it, a full turn returns it")
        return 2 * math.pi, ("measured on samples of your kernel: it does not return after "
                             "a full turn either (is theta in degrees?); 2pi is assumed")

    def kernel(self, ksize: int, p: Mapping[str, float]) -> Array:
        """One kernel, checked for shape and finiteness."""
        value = _call(self.kernel_fn, "--kernel", ksize, sigma=p["sigma"], theta=p["theta"],
                      lambd=p["lambda"], gamma=p["gamma"], psi=p["psi"])
        return _checked(value, ksize, "--kernel")

    def derivative(self, ksize: int, p: Mapping[str, float], name: str) -> Array:
        """d kernel / d ``name`` at one point."""
        if self.derivative_fn is not None:
            value = _call(self.derivative_fn, "--derivative", ksize, sigma=p["sigma"],
                          theta=p["theta"], lambd=p["lambda"], gamma=p["gamma"],
                          psi=p["psi"], param=name)
            return _checked(value, ksize, "--derivative")
        return self._central(ksize, p, name, FD_STEP)

    def _central(self, ksize: int, p: Mapping[str, float], name: str, h: float) -> Array:
        step = fd_step(p, name, h)
        plus = self.kernel(ksize, {**p, name: p[name] + step})
        minus = self.kernel(ksize, {**p, name: p[name] - step})
        return (plus - minus) / (2 * step)

    def second(self, ksize: int, p: Mapping[str, float], name: str) -> Array:
        """d^2 kernel / d ``name``^2 by central differences (of the derivative)."""
        step = fd_step(p, name, FD_STEP2)
        plus = self.derivative(ksize, {**p, name: p[name] + step}, name)
        minus = self.derivative(ksize, {**p, name: p[name] - step}, name)
        return (plus - minus) / (2 * step)

    def derivatives(self, ksize: int, params: Mapping[str, ArrayLike],
                    names: tuple[str, ...] | list[str], order: int = 1
                    ) -> tuple[Array, dict[str, Array]]:
        """Kernels and derivatives, one user call per parameter vector."""
        arrays = np.broadcast_arrays(*(np.asarray(params[n], dtype=np.float64)
                                       for n in PARAM_NAMES))
        shape = arrays[0].shape
        flat = [a.ravel() for a in arrays]
        count = flat[0].size
        kernels = np.empty((count, ksize, ksize))
        derivs = {name: np.empty((count, ksize, ksize)) for name in names}
        for i in range(count):
            point = {n: float(flat[j][i]) for j, n in enumerate(PARAM_NAMES)}
            kernels[i] = self.kernel(ksize, point)
            for name in names:
                derivs[name][i] = (self.derivative(ksize, point, name) if order == 1
                                   else self.second(ksize, point, name))
        out_shape = (*shape, ksize, ksize)
        return kernels.reshape(out_shape), {n: d.reshape(out_shape) for n, d in derivs.items()}


def fd_step(p: Mapping[str, float], name: str, h: float) -> float:
    """The central-difference step in ``name`` at ``p``: ``h``, relative to the value
    where that is larger, and shrunk with a length below a pixel. At lambda = 0.001 a
    step of 1e-6 turns the carrier by tens of radians, in lambda itself (so its step is
    relative) and in the angle and aspect that rotate and squeeze it (so theirs is scaled
    by the smallest length below 1); psi only shifts the carrier."""
    value = abs(p[name])
    if name in LENGTH_PARAMS:
        return h * (value if 0 < value < 1 else max(1.0, value))
    step = h * max(1.0, value)
    if name == "psi":
        return step
    lengths = [abs(p[n]) for n in LENGTH_PARAMS if math.isfinite(p[n]) and p[n] != 0]
    return step * min([1.0, *lengths])


def _call(function: Callable[..., Any], option: str, *args: Any, **kwargs: Any) -> Any:
    """Call the user's function, isolated from our output (:func:`_isolated`)."""
    with _isolated(option):
        return function(*args, **kwargs)


def _checked(value: Any, ksize: int, option: str) -> Array:
    """What the user's function returned, as a float64 ``(ksize, ksize)`` array: refused
    when it is not real numbers, converted (with a note) when it is in another type."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):  # e.g. a ragged list
        array = None
    if array is None or array.dtype.kind not in "fciubO":
        raise ConfigError(f"{option}: your code returned {type(value).__name__}"
                          + (f" of {array.dtype}" if array is not None else "")
                          + ", not an array of real numbers")
    kind, dtype = array.dtype.kind, array.dtype
    if kind in "iub":
        raise ConfigError(f"{option}: your code returned {dtype} values; a kernel of "
                          "integers cannot change smoothly with its parameters (its finite "
                          "differences are 0 or jumps): return floats")
    if kind == "c":
        if np.any(array.imag != 0):
            raise ConfigError(f"{option}: your code returned complex values ({dtype}) with "
                              "an imaginary part; a conv layer's kernel is real: return "
                              ".real (or the part you mean)")
        _note(f"{option}: your code returns {dtype} values with a zero imaginary part; "
              "their real part is used")
        array = array.real
    elif kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"{option}: your code returned an array of Python objects "
                              "that are not all numbers; return a float array") from None
        _note(f"{option}: your code returns an array of Python objects (dtype object); "
              "converted to float64")
    elif kind == "f" and (digits := np.finfo(dtype).precision) < 6:
        raise ConfigError(f"{option}: your code returned {dtype} values, {digits} significant "
                          "digits: too few for the finite differences this needs; return "
                          "float64")
    elif dtype != np.float64:
        _note(f"{option}: your code returns {dtype} values; converted to float64 (finite "
              "differences of step 1e-6 need float64 precision)")
    array = np.asarray(array, dtype=np.float64)
    if array.shape != (ksize, ksize):
        raise ConfigError(f"{option}: your code returned shape {array.shape}, expected "
                          f"({ksize}, {ksize})")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{option}: your code returned NaN or infinite values")
    peak = float(np.max(np.abs(array))) if array.size else 0.0
    if peak > MAX_KERNEL_VALUE:  # its squares, summed over the pixels, overflow float64
        raise ConfigError(f"{option}: your code returned values up to {peak:.3g}, beyond "
                          f"{MAX_KERNEL_VALUE:g}: a loss or a norm of such a kernel overflows "
                          "float64; scale it down")
    return array
