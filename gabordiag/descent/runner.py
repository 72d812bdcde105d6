"""The one descent runner: batches of runs, one vectorised optimizer step per iteration.

Every command that descends (recover, basins, remedies, diagnose, check) and the
benchmarks run through :func:`run_descents`. What the optimizer steps can differ from
the learned values through a :class:`Parametrisation` (for instance a unit vector in
place of an angle); the loss and the recorded trajectory are always in the learned
values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ..config.model import OptimizerSettings
from ..engines.base import Engine
from .optim import make_optimizer

__all__ = ["BOUND", "Descents", "Identity", "Parametrisation", "Trajectory", "UnitVector",
           "run_descent", "run_descents"]

Array = NDArray[np.float64]
BOUND = 1e6  # a learned value beyond this has run away: the run stops


@dataclass
class Trajectory:
    """Parameters, loss and gradient per step (row 0 is the start).

    ``params``: ``(T+1, n)``; ``loss``: ``(T+1,)``; ``grads``: ``(T+1, n)``;
    ``names``: the learned parameters. ``stopped_at`` is the step where non-finite
    values ended the run early (``None`` when every step ran).
    """

    names: tuple[str, ...]
    params: Array
    loss: Array
    grads: Array
    stopped_at: int | None = None

    @property
    def n_steps(self) -> int:
        """Number of updates taken."""
        return len(self.loss) - 1

    def step_sizes(self) -> Array:
        """Euclidean length of each update, ``(T,)`` (inf for a run-away step)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.linalg.norm(np.diff(self.params, axis=0), axis=1)

    def grad_norms(self) -> Array:
        """Gradient norm per step, ``(T+1,)``."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.linalg.norm(self.grads, axis=1)

    def as_descents(self) -> Descents:
        """This run as a batch of one."""
        stop = -1 if self.stopped_at is None else self.stopped_at
        steps = len(self.loss)
        n = len(self.names)
        params = np.full((steps, 1, n), np.nan)
        params[:, 0] = self.params
        grads = np.full((steps, 1, n), np.nan)
        grads[:, 0] = self.grads
        return Descents(self.names, params, self.loss[:, None].copy(), grads,
                        np.array([stop], dtype=np.int64))


class Descents:
    """A batch of runs: ``params (T+1, B, n)``, ``loss (T+1, B)``, ``grads (T+1, B, n)``
    and ``stopped_at (B,)`` (-1 where every step ran). Rows after a run's stop are not
    part of it.

    When every run reached a fixed point (to the bit) before its last step, only the
    rows up to there are stored (``steps`` is then the number of updates, and every later
    row equals the last stored one): :attr:`params`, :attr:`loss` and :attr:`grads`
    are the whole arrays, made on first use; :attr:`stored_params`, :attr:`stored_loss`,
    :attr:`stored_grads` and :meth:`tail` read only what was computed.
    """

    def __init__(self, names: tuple[str, ...], params: Array, loss: Array, grads: Array,
                 stopped_at: NDArray[np.int64], steps: int | None = None) -> None:
        self.names = names
        self.stored_params, self.stored_loss, self.stored_grads = params, loss, grads
        self.stopped_at = stopped_at
        self.n_steps = len(loss) - 1 if steps is None else steps
        self._whole: dict[str, Array] = {}

    def _expanded(self, name: str, stored: Array) -> Array:
        if len(stored) == self.n_steps + 1:
            return stored
        if name not in self._whole:  # the fixed point's rows, repeated to the last step
            whole = np.empty((self.n_steps + 1, *stored.shape[1:]))
            whole[:len(stored)] = stored
            whole[len(stored):] = stored[-1]
            self._whole[name] = whole
        return self._whole[name]

    @property
    def params(self) -> Array:
        """Every step's values, ``(T+1, B, n)``."""
        return self._expanded("params", self.stored_params)

    @property
    def loss(self) -> Array:
        """Every step's loss, ``(T+1, B)``."""
        return self._expanded("loss", self.stored_loss)

    @property
    def grads(self) -> Array:
        """Every step's gradient, ``(T+1, B, n)``."""
        return self._expanded("grads", self.stored_grads)

    @property
    def n_runs(self) -> int:
        """Number of runs in the batch."""
        return int(self.stored_params.shape[1])

    def tail(self, rows: int) -> Array:
        """The values of the last ``rows`` steps, ``(rows, B, n)`` (no more than that is
        made when the batch ended at a fixed point)."""
        return self._tail(self.stored_params, rows)

    def loss_tail(self, rows: int) -> Array:
        """The loss of the last ``rows`` steps, ``(rows, B)``."""
        return self._tail(self.stored_loss, rows)

    def _tail(self, stored: Array, rows: int) -> Array:
        rows = min(rows, self.n_steps + 1)
        repeats = min(rows, self.n_steps + 1 - len(stored))  # of the last stored row
        if repeats == 0:
            return stored[len(stored) - rows:]
        repeated = np.broadcast_to(stored[-1], (repeats, *stored.shape[1:]))
        if repeats == rows:
            return repeated
        return np.concatenate([stored[len(stored) - (rows - repeats):], repeated])

    def run(self, b: int) -> Trajectory:
        """Run ``b`` as a :class:`Trajectory`."""
        stop = int(self.stopped_at[b])
        end = self.n_steps + 1 if stop < 0 else stop + 1
        return Trajectory(self.names, self.params[:end, b], self.loss[:end, b],
                          self.grads[:end, b], None if stop < 0 else stop)

    def final(self) -> Array:
        """Each run's last values, ``(B, n)`` (its last finite row when it stopped)."""
        rows = np.where(self.stopped_at < 0, len(self.stored_loss) - 1, self.stopped_at)
        return self.stored_params[rows, np.arange(self.n_runs)]

    def subset(self, runs: NDArray[np.intp]) -> Descents:
        """The runs ``runs`` of the batch (in that order)."""
        return Descents(self.names, self.stored_params[:, runs], self.stored_loss[:, runs],
                        self.stored_grads[:, runs], self.stopped_at[runs], self.n_steps)


class Parametrisation(Protocol):
    """What the optimizer steps, in place of the learned values."""

    def inner(self, values: Array) -> Array:
        """The optimizer's variables for learned values ``(B, n)``."""
        ...

    def values(self, inner: Array, previous: Array) -> Array:
        """Learned values from the optimizer's variables (``previous``: the last ones)."""
        ...

    def gradient(self, inner: Array, grad: Array) -> Array:
        """The loss gradient with respect to the optimizer's variables."""
        ...

    def project(self, inner: Array) -> Array:
        """The variables after a step (e.g. back onto a constraint)."""
        ...


class Identity:
    """The optimizer steps the learned values themselves."""

    def inner(self, values: Array) -> Array:
        return values

    def values(self, inner: Array, previous: Array) -> Array:
        return inner

    def gradient(self, inner: Array, grad: Array) -> Array:
        return grad

    def project(self, inner: Array) -> Array:
        return inner


@dataclass(frozen=True)
class UnitVector:
    """Learn ``u = (cos k theta, sin k theta)`` instead of theta alone, with
    ``theta = atan2(u2, u1) / k`` (unwrapped continuously from step to step); ``u`` is
    put back on the unit circle after each step. ``k = 2`` makes a pi-periodic angle
    one point of the circle."""

    k: float = 1.0

    def inner(self, values: Array) -> Array:
        theta = values[:, 0]
        return np.stack([np.cos(self.k * theta), np.sin(self.k * theta)], axis=1)

    def values(self, inner: Array, previous: Array) -> Array:
        raw = np.arctan2(inner[:, 1], inner[:, 0]) / self.k
        period = 2 * math.pi / self.k
        theta = previous[:, 0] + (raw - previous[:, 0] + period / 2) % period - period / 2
        return theta[:, None]

    def gradient(self, inner: Array, grad: Array) -> Array:
        square = inner * inner
        r2 = square[:, 0] + square[:, 1]  # the row sums, as np.sum adds two values
        dtheta_du = np.empty_like(inner)
        np.negative(inner[:, 1], out=dtheta_du[:, 0])
        dtheta_du[:, 1] = inner[:, 0]
        dtheta_du /= (self.k * r2)[:, None]
        return grad[:, :1] * dtheta_du

    def project(self, inner: Array) -> Array:
        square = inner * inner  # the norm as np.linalg.norm takes it, without its overhead
        return inner / np.sqrt(square[:, 0] + square[:, 1])[:, None]


def run_descents(engine: Engine, settings: OptimizerSettings, starts: Array, steps: int,
                 lr: Array | float | None = None,
                 progress: Callable[[int], None] | None = None,
                 schedule: Callable[[int], float] | None = None,
                 parametrisation: Parametrisation | None = None) -> Descents:
    """Run a batch of descents at once, one vectorised optimizer step per iteration.

    Parameters
    ----------
    engine : Engine
    settings : OptimizerSettings
    starts : array ``(B, n)``
        Starting values of the learned parameters, one row per run.
    steps : int
        Optimizer updates per run.
    lr : float or array ``(B,)``, optional
        Learning rate per run (default: the settings' lr).
    progress : callable, optional
        Called with the step number after each update.
    schedule : callable, optional
        ``schedule(t)`` multiplies the learning rate of update ``t`` (0-based), like a
        torch.optim.lr_scheduler stepped once per update.
    parametrisation : Parametrisation, optional
        What the optimizer steps (default: the learned values).

    A run stops (and is frozen) at the first non-finite loss, gradient or value, or
    when a value leaves ``[-BOUND, BOUND]``.

    When an update leaves every run exactly where it was (the same bits) and the
    optimizer keeps no state (SGD without momentum, no schedule), every later update
    would too: the remaining steps are filled in without evaluating them. The result
    is the same, bit for bit.
    """
    param = parametrisation or Identity()
    optimizer = make_optimizer(settings)
    values = np.array(starts, dtype=np.float64, ndmin=2)
    batch, n = values.shape
    x = param.inner(values)
    placeholder = param.inner(np.zeros_like(values))  # finite stand-in for stopped runs
    rates = settings.lr if lr is None else lr
    memoryless = schedule is None and optimizer.memoryless
    params = np.empty((steps + 1, batch, n))
    loss = np.empty((steps + 1, batch))
    grads = np.empty((steps + 1, batch, n))
    stopped = np.full(batch, -1, dtype=np.int64)
    alive = np.ones(batch, dtype=bool)
    all_alive = True
    last = steps
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            value, grad = engine.loss_and_grad(values)
            params[t], loss[t], grads[t] = values, value, grad
            healthy = (np.isfinite(value).all() and np.isfinite(grad).all()
                       and np.abs(values).max() <= BOUND)
            if not healthy:  # mark the runs that stop here; the rest go on
                bad = alive & ~(np.isfinite(value) & np.all(np.isfinite(grad), axis=1)
                                & np.all(np.abs(values) <= BOUND, axis=1))
                stopped[bad] = t
                alive &= ~bad
                all_alive = bool(alive.all())
            if t == steps or not (all_alive or alive.any()):
                last = t
                break
            rate = rates if schedule is None else np.asarray(rates) * schedule(t)
            if all_alive:
                moved = param.project(optimizer.step(x, param.gradient(x, grad), rate))
                new_values = param.values(moved, values)
                if (memoryless and (moved == x).all()
                        and (new_values is moved or (new_values == values).all())):
                    # a fixed point of every run, to the bit: so is every later step,
                    # which the Descents repeats without storing it
                    if progress is not None:
                        progress(steps)
                    return Descents(engine.problem.learn, params[:t + 1], loss[:t + 1],
                                    grads[:t + 1], stopped, steps)
                x, values = moved, new_values
            else:  # stopped runs keep stepping on finite placeholders; not read
                live = alive[:, None]
                inner_grad = param.gradient(x, np.where(live, grad, 0.0))
                x = param.project(optimizer.step(np.where(live, x, placeholder),
                                                 np.where(live, inner_grad, 0.0), rate))
                values = param.values(x, np.where(live, values, 0.0))
            if progress is not None:
                progress(t + 1)
    if last < steps:  # every run stopped: nothing after that step is part of a run
        params[last + 1:], loss[last + 1:], grads[last + 1:] = np.nan, np.nan, np.nan
    return Descents(engine.problem.learn, params, loss, grads, stopped)


def run_descent(engine: Engine, settings: OptimizerSettings, start: Array, steps: int,
                progress: Callable[[int], None] | None = None) -> Trajectory:
    """Run ``steps`` optimizer updates from ``start`` (one run of :func:`run_descents`)."""
    start_row = np.asarray(start, dtype=np.float64).reshape(1, -1)
    return run_descents(engine, settings, start_row, steps, progress=progress).run(0)
