"""Descent runs and their verdicts, on small real problems whose answer is known.

The problems are small (48x48 1/f noise, 9x9 kernel) and use the direct engine. Where a
verdict depends on a point of the landscape (a maximum, a spurious minimum), the test
finds that point numerically first and checks the verdict against the point's property
(curvature sign by probing the loss, kernel error computed here from the formula).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import gabor as kernel
from scipy.optimize import brentq

from gabordiag.analysis.study import Study
from gabordiag.config import OptimizerSettings, resolve_config
from gabordiag.config.choices import VERDICTS
from gabordiag.descent.explain import classify
from gabordiag.descent.runner import Trajectory, run_descent, run_descents
from gabordiag.descent.verdicts import Verdict, judge, steps_to_settle
from gabordiag.engines.direct import DirectEngine

SMALL = {"size": 48, "ksize": 9, "sigma": 2, "lambda": 5, "gamma": 0.5, "loss": "mse"}
TARGET = math.pi / 4  # the default target theta


def make_engine(**changes):
    config, _ = resolve_config({**SMALL, **changes})
    assert config.target_theta == pytest.approx(TARGET)
    return DirectEngine(Study(config).problem())


@pytest.fixture(scope="module")
def mse():
    return make_engine()


@pytest.fixture(scope="module")
def rmse():
    return make_engine(loss="rmse")


@pytest.fixture(scope="module")
def spurious():
    """lambda 3: more carrier cycles under the envelope, spurious minima appear."""
    return make_engine(**{"lambda": 3})


def kernel_error(engine, theta):
    p = engine.problem.target
    target = kernel(engine.problem.ksize, p.theta, p.sigma, p.lambd, p.gamma, p.psi)
    other = kernel(engine.problem.ksize, theta, p.sigma, p.lambd, p.gamma, p.psi)
    return float(np.linalg.norm(other - target) / np.linalg.norm(target))


def loss_at(engine, theta):
    return float(engine.loss(np.array([[theta]]))[0])


def curvature(engine, theta, h=1e-4):
    """Second derivative of the loss by central differences."""
    return (loss_at(engine, theta + h) - 2 * loss_at(engine, theta)
            + loss_at(engine, theta - h)) / h**2


def sgd(lr, **kw):
    return OptimizerSettings(name="sgd", lr=lr, **kw)


def run(engine, settings, start, steps):
    trajectory = run_descent(engine, settings, np.atleast_1d(np.asarray(start, float)), steps)
    return trajectory, classify(trajectory, engine)


def synthetic(engine, thetas):
    """A trajectory through given thetas with the engine's loss and gradient there."""
    x = np.asarray(thetas, dtype=float)[:, None]
    loss, grads = engine.loss_and_grad(x)
    return Trajectory(("theta",), x, loss, grads)


@pytest.fixture(scope="module")
def stable_lr(mse):
    # plain gradient descent is stable for lr < 2 / curvature at the minimum
    c = curvature(mse, TARGET)
    assert c > 0
    return 0.5 / c


# -- run_descent -------------------------------------------------------------------------------

def test_run_descent_records_the_start_and_every_step(mse):
    calls = []
    steps = 7
    t = run_descent(mse, sgd(1e-3), np.array([0.3]), steps, progress=calls.append)
    assert t.names == ("theta",)
    assert t.params.shape == (steps + 1, 1)
    assert t.loss.shape == (steps + 1,)
    assert t.grads.shape == (steps + 1, 1)
    assert t.n_steps == steps
    assert t.stopped_at is None
    assert t.params[0, 0] == 0.3
    assert calls == list(range(1, steps + 1))
    # every row is the engine's loss and gradient at that row's parameters
    loss, grads = mse.loss_and_grad(t.params)
    np.testing.assert_allclose(t.loss, loss, rtol=1e-12)
    np.testing.assert_allclose(t.grads, grads, rtol=1e-12)
    # ... and the gradient is the derivative of the loss (central differences)
    h = 1e-6
    fd = [(loss_at(mse, x + h) - loss_at(mse, x - h)) / (2 * h) for x in t.params[:, 0]]
    np.testing.assert_allclose(t.grads[:, 0], fd, rtol=1e-5)
    np.testing.assert_allclose(t.step_sizes(), np.abs(np.diff(t.params[:, 0])), rtol=1e-15)
    np.testing.assert_allclose(t.grad_norms(), np.abs(t.grads[:, 0]), rtol=1e-15)


def test_plain_sgd_steps_follow_the_recorded_gradients(mse):
    lr = 2e-3
    t = run_descent(mse, sgd(lr), np.array([0.3]), 10)
    np.testing.assert_allclose(t.params[1:], t.params[:-1] - lr * t.grads[:-1],
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize(("momentum", "dampening", "nesterov"),
                         [(0.9, 0.0, False), (0.5, 0.3, False), (0.9, 0.0, True)])
def test_sgd_momentum_steps_follow_torch_rule(mse, momentum, dampening, nesterov):
    lr = 1e-3
    t = run_descent(mse, sgd(lr, momentum=momentum, dampening=dampening, nesterov=nesterov),
                    np.array([0.3]), 10)
    x, buf = t.params[0].copy(), None
    for i in range(10):
        g = t.grads[i]
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        x = x - lr * (g + momentum * buf if nesterov else buf)
        np.testing.assert_allclose(t.params[i + 1], x, rtol=1e-13)


def test_adam_and_rmsprop_steps_follow_torch_rule():
    engine = make_engine(**{"learn": "theta,sigma"})
    start = np.array([0.3, 2.5])
    lr, b1, b2, eps = 1e-2, 0.8, 0.99, 1e-8
    t = run_descent(engine, OptimizerSettings(name="adam", lr=lr, betas=(b1, b2), eps=eps),
                    start, 6)
    assert t.names == ("theta", "sigma")
    assert t.params.shape == (7, 2)
    m = v = np.zeros(2)
    x = start
    for i in range(6):
        g = t.grads[i]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = i + 1
        x = x - lr / (1 - b1**step) * m / (np.sqrt(v) / np.sqrt(1 - b2**step) + eps)
        np.testing.assert_allclose(t.params[i + 1], x, rtol=1e-13)

    alpha = 0.9
    t = run_descent(engine, OptimizerSettings(name="rmsprop", lr=lr, alpha=alpha, eps=eps),
                    start, 6)
    sq = np.zeros(2)
    x = start
    for i in range(6):
        g = t.grads[i]
        sq = alpha * sq + (1 - alpha) * g * g
        x = x - lr * g / (np.sqrt(sq) + eps)
        np.testing.assert_allclose(t.params[i + 1], x, rtol=1e-13)


# -- converged and converged-equivalent ----------------------------------------------------------

def test_mse_small_lr_from_near_the_target_converges(mse, stable_lr):
    t, v = run(mse, sgd(stable_lr), TARGET + 0.1, 300)
    assert v.kind == "converged", v.message
    assert t.params[-1, 0] == pytest.approx(TARGET, abs=1e-6)
    assert kernel_error(mse, t.params[-1, 0]) < 1e-5
    assert t.loss[-1] < 1e-9 * t.loss[0]
    assert np.all(np.diff(t.loss) <= 1e-15)  # stable: the loss never goes up


@pytest.mark.parametrize("k", [1, -1, 2])
def test_mse_small_lr_from_near_an_equivalent_angle(mse, stable_lr, k):
    """psi = 0: the kernel is pi-periodic in theta, so target + k*pi is the same kernel."""
    start = TARGET + k * math.pi + 0.1
    t, v = run(mse, sgd(stable_lr), start, 300)
    assert v.kind == "converged-equivalent", v.message
    final = t.params[-1, 0]
    assert final == pytest.approx(TARGET + k * math.pi, abs=1e-6)
    assert kernel_error(mse, final) < 1e-5  # the same kernel, computed here
    assert abs(final - TARGET) > 1  # but not the target's value


# -- stalled at a maximum ----------------------------------------------------------------------

def test_start_exactly_at_a_loss_maximum_stalls(mse, stable_lr):
    grid = np.linspace(TARGET, TARGET + math.pi, 721)
    values = mse.loss(grid[:, None])
    i = int(np.argmax(values))

    def grad(theta):
        return float(mse.loss_and_grad(np.array([[theta]]))[1][0, 0])

    top = brentq(grad, grid[i - 1], grid[i + 1], xtol=1e-15)
    # it is a maximum: the loss is lower on both sides
    assert loss_at(mse, top - 1e-3) < loss_at(mse, top) > loss_at(mse, top + 1e-3)
    assert curvature(mse, top) < 0
    t, v = run(mse, sgd(stable_lr), top, 20)
    assert v.kind == "stalled", v.message
    assert v.evidence["shape"] == "maximum"
    assert abs(t.params[-1, 0] - top) < 1e-9
    assert kernel_error(mse, t.params[-1, 0]) > 0.5


def test_synthetic_stop_on_a_plateau_far_from_target(mse):
    # a standing trajectory where the loss is maximal is "stalled", not a minimum
    grid = np.linspace(TARGET, TARGET + math.pi, 721)
    top = grid[int(np.argmax(mse.loss(grid[:, None])))]
    v = classify(synthetic(mse, np.full(30, top)), mse)
    assert v.kind == "stalled"
    # a grid point next to the maximum: the probes see a maximum or one side of it
    assert v.evidence["shape"] in ("maximum", "saddle", "slope")


# -- a spurious local minimum ----------------------------------------------------------------

def spurious_minima(engine):
    """Local minima of the loss over one period whose kernel is not the target's."""
    grid = np.linspace(TARGET - math.pi / 2, TARGET + math.pi / 2, 2001)
    values = engine.loss(grid[:, None])
    inner = np.flatnonzero((values[1:-1] < values[:-2]) & (values[1:-1] < values[2:])) + 1
    return [float(grid[i]) for i in inner if kernel_error(engine, grid[i]) > 0.1]


@pytest.mark.slow
def test_start_in_a_spurious_basin_ends_in_a_local_minimum(spurious):
    minima = spurious_minima(spurious)
    assert minima, "this image must have a spurious minimum (sigma/lambda = 2/3)"
    for minimum in minima:
        c = curvature(spurious, minimum)
        assert c > 0
        t, v = run(spurious, sgd(0.5 / c), minimum + 0.01, 500)
        assert v.kind == "local-minimum", v.message
        final = float(t.params[-1, 0])
        assert final == pytest.approx(minimum, abs=2e-3)  # the grid spacing
        # the property: not the target's kernel, and a minimum by probing
        assert kernel_error(spurious, final) > 1e-3
        h = 1e-3
        assert loss_at(spurious, final - h) > loss_at(spurious, final)
        assert loss_at(spurious, final + h) > loss_at(spurious, final)
        assert loss_at(spurious, final) > loss_at(spurious, TARGET) + 1.0


# -- cycling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1])
def test_rmse_with_a_large_lr_cycles_with_period_2_around_the_target(rmse, k):
    """RMSE ~ |theta - theta*| near the minimum: fixed steps bounce across it."""
    target = TARGET + k * math.pi
    slope = abs(float(rmse.loss_and_grad(np.array([[target + 1e-4]]))[1][0, 0]))
    assert slope > 1  # the gradient does not vanish at the minimum
    t, v = run(rmse, sgd(3e-3), target + 0.05, 300)
    assert v.kind == "cycling", v.message
    ev = v.evidence
    assert ev["period"] == 2
    assert ev["amplitude"] > 0
    x = t.params[:, 0]
    # from the trajectory itself: every other point repeats, neighbours straddle the target
    assert abs(x[-1] - x[-3]) < 0.1 * abs(x[-1] - x[-2])
    assert (x[-1] - target) * (x[-2] - target) < 0
    assert ev["amplitude"] == pytest.approx(abs(x[-1] - x[-2]) / 2, rel=0.1)
    # the minimum it surrounds is the target (k = 0) or an equivalent angle (k = 1)
    assert ev["minimum"] == pytest.approx(target, abs=1e-6)
    assert ev["minimum_is_target"] is True
    assert ev["minimum_is_exact_target"] is (k == 0)
    assert kernel_error(rmse, ev["minimum"]) < 1e-5
    # the loss keeps jumping back up
    assert ev["tail_loss_max"] > 10 * ev["tail_loss_min"]
    assert ev["loss_jumps"] > 10


def test_synthetic_period_3_cycle(rmse):
    offsets = np.array([0.03, -0.01, -0.02])
    v = classify(synthetic(rmse, np.tile(TARGET + offsets, 40)), rmse)
    assert v.kind == "cycling", v.message
    assert v.evidence["period"] == 3
    assert v.evidence["amplitude"] == pytest.approx(0.025, rel=1e-9)
    assert v.evidence["centre"] == pytest.approx(TARGET, abs=1e-12)
    assert v.evidence["minimum"] == pytest.approx(TARGET, abs=1e-6)


def test_synthetic_cycle_around_a_spurious_minimum(spurious):
    minimum = spurious_minima(spurious)[0]
    v = classify(synthetic(spurious, np.tile(minimum + np.array([0.01, -0.01]), 50)),
                 spurious)
    assert v.kind == "cycling"
    assert v.evidence["period"] == 2
    assert v.evidence["minimum"] == pytest.approx(minimum, abs=2e-3)
    assert v.evidence["minimum_is_target"] is False
    assert "not the target" in v.message


# -- diverged ----------------------------------------------------------------------------------

def test_huge_lr_diverges_at_the_step_the_parameter_runs_away(mse):
    t, v = run(mse, sgd(1e12), TARGET + 1.0, 50)
    assert v.kind == "diverged", v.message
    away = int(np.flatnonzero(np.abs(t.params[:, 0]) > 1e6)[0])
    assert t.stopped_at == away
    assert v.evidence["step"] == away
    assert len(t.loss) == away + 1  # the run stops there
    assert str(away) in v.message
    assert v.evidence["last_finite_loss"] == pytest.approx(t.loss[away])


class NaNAfter:
    """An engine that returns NaN from its ``n``-th evaluation on."""

    def __init__(self, engine, n):
        self.engine, self.n, self.calls = engine, n, 0
        self.name, self.problem = "nan-after", engine.problem

    def loss_and_grad(self, values):
        loss, grad = self.engine.loss_and_grad(values)
        self.calls += 1
        if self.calls > self.n:
            loss = np.full_like(loss, np.nan)
        return loss, grad

    def loss(self, values):
        return self.engine.loss(values)


def test_a_nan_loss_diverges_at_that_step(mse, stable_lr):
    t, v = run(NaNAfter(mse, 5), sgd(stable_lr), TARGET + 0.3, 50)
    assert t.stopped_at == 5
    assert len(t.loss) == 6
    assert np.isnan(t.loss[5])
    assert np.all(np.isfinite(t.loss[:5]))
    assert v.kind == "diverged"
    assert v.evidence["step"] == 5
    assert "NaN" in v.message
    assert v.evidence["last_finite_loss"] == t.loss[4]


def test_a_nan_at_the_start_diverges_at_step_0(mse):
    t, v = run(NaNAfter(mse, 0), sgd(1e-3), TARGET, 10)
    assert t.stopped_at == 0
    assert v.kind == "diverged"
    assert v.evidence["step"] == 0
    assert v.evidence["last_finite_loss"] is None


def test_synthetic_runaway_parameter(mse):
    x = np.array([[0.1], [5.0], [2e6]])
    t = Trajectory(("theta",), x, np.array([1.0, 2.0, 3.0]), np.ones((3, 1)), stopped_at=2)
    v = classify(t, mse)
    assert v.kind == "diverged"
    assert v.evidence["step"] == 2
    assert "1e6" in v.message or "1e+06" in v.message


def test_step_sizes_of_a_runaway_run_warn_nothing():
    # the suite runs with warnings as errors: an overflow here would raise
    x = np.array([[0.0], [1e200], [-1e200]])
    t = Trajectory(("theta",), x, np.zeros(3), np.array([[1e200], [1.0], [np.inf]]),
                   stopped_at=2)
    assert np.all(t.step_sizes() > 1e6)
    assert t.grad_norms()[1] == 1.0
    assert np.all(t.grad_norms()[[0, 2]] > 1e6)


# -- not converged ------------------------------------------------------------------------------

def test_too_few_steps_is_not_converged(mse, stable_lr):
    t, v = run(mse, sgd(stable_lr), TARGET + 1.0, 8)
    assert v.kind == "not-converged", v.message
    assert np.all(np.diff(t.loss) < 0)  # still going down ...
    assert t.step_sizes()[-1] > 1e-3    # ... with steps far from settled
    # and more steps of the same run do converge (to the target or an equivalent angle)
    t, v = run(mse, sgd(stable_lr), TARGET + 1.0, 400)
    assert v.kind in ("converged", "converged-equivalent"), v.message


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_very_short_runs_are_not_converged(mse, stable_lr, steps):
    # also: no "mean of an empty slice" warning (warnings are errors in this suite)
    t, v = run(mse, sgd(stable_lr), TARGET + 1.0, steps)
    assert t.n_steps == steps
    assert v.kind == "not-converged", v.message


def test_a_tiny_lr_on_a_slope_is_not_a_stall(mse):
    """With lr 1e-9 every step is ~1e-8 (below the 'settled' step tolerance), but the
    gradient is far from zero and the loss goes down at every step: the run is still
    moving downhill, it did not stall at a maximum, saddle or plateau."""
    start = TARGET + 0.5
    grad = float(mse.loss_and_grad(np.array([[start]]))[1][0, 0])
    assert abs(grad) > 1  # a slope, not a stationary point
    t, v = run(mse, sgd(1e-9), start, 50)
    assert np.all(np.diff(t.loss) < 0)
    assert np.all(np.abs(t.grads) > 1)
    assert v.kind == "not-converged", v.message


def test_synthetic_steady_drift_is_not_converged(mse):
    v = classify(synthetic(mse, np.linspace(0.0, 0.5, 60)), mse)
    assert v.kind == "not-converged"


# -- verdict objects -----------------------------------------------------------------------------

def test_verdicts_are_plain_data(rmse):
    _t, v = run(rmse, sgd(3e-3), TARGET + 0.05, 100)
    assert isinstance(v, Verdict)
    assert v.kind in VERDICTS
    data = v.to_dict()
    assert set(data) == {"kind", "message", "evidence"}
    text = json.dumps(data, allow_nan=False)  # no numpy types, no NaN
    assert json.loads(text) == data


def test_classify_does_not_change_the_trajectory(rmse):
    t, _ = run(rmse, sgd(3e-3), TARGET + 0.05, 60)
    before = replace(t, params=t.params.copy(), loss=t.loss.copy(), grads=t.grads.copy())
    classify(t, rmse)
    np.testing.assert_array_equal(t.params, before.params)
    np.testing.assert_array_equal(t.loss, before.loss)


# -- the batch judge is the single-run judge -----------------------------------------------

@pytest.mark.parametrize(("changes", "lr"), [
    ({"loss": "mse"}, 3e-3),             # converges or cycles, depending on the start
    ({"loss": "rmse"}, 3e-3),            # cycles around the kink
    ({"loss": "mse", "lambda": 3}, 1e-3),  # spurious minima: local-minimum outcomes
    ({"loss": "mse"}, 1e-7),             # still crawling when the steps run out
    ({"loss": "mse"}, 10.0),             # thrown far away
])
def test_batch_judge_agrees_with_classify_run_by_run(changes, lr):
    config, _ = resolve_config({**SMALL, **changes})
    engine = Study(config).engine()
    starts = TARGET - math.pi / 2 + math.pi * (np.arange(40) + 0.25) / 40
    descents = run_descents(engine, sgd(lr), starts[:, None], 120)
    verdict = judge(descents, engine)
    one_by_one = [classify(descents.run(b), engine).kind for b in range(descents.n_runs)]
    assert verdict.kinds == one_by_one
    assert len(verdict.kinds) == 40


def test_batch_judge_sees_several_kinds_in_one_batch():
    config, _ = resolve_config({**SMALL, "loss": "mse", "lambda": 3})
    engine = Study(config).engine()
    starts = TARGET - math.pi / 2 + math.pi * (np.arange(60) + 0.5) / 60
    descents = run_descents(engine, sgd(3e-3), starts[:, None], 400)
    kinds = judge(descents, engine).kinds
    assert {"converged", "local-minimum", "not-converged"} <= set(kinds), kinds
    assert kinds == [classify(descents.run(b), engine).kind for b in range(60)]


def test_steps_to_settle_batch_is_run_by_run():
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(size=(50, 7)) * np.exp(-np.arange(50))[:, None], axis=0)
    batch = steps_to_settle(values, tol=1e-3)
    for b in range(7):
        column = values[:, b]
        far = np.flatnonzero(np.abs(column - column[-1]) >= 1e-3)
        assert batch[b] == (far[-1] + 1 if len(far) else 0)
        assert steps_to_settle(column, tol=1e-3) == batch[b]


# -- a batch at a fixed point is filled in, bit for bit ------------------------------------

class _Counting:
    """An engine that counts its evaluations."""

    def __init__(self, engine) -> None:
        self.engine, self.problem, self.name, self.calls = engine, engine.problem, engine.name, 0

    def loss_and_grad(self, values):
        self.calls += 1
        return self.engine.loss_and_grad(values)


@pytest.mark.parametrize(("loss", "lr", "momentum"), [
    ("mse", 2e-3, 0.0),    # every run settles to the bit: the rest is filled in
    ("rmse", 3e-3, 0.0),   # never settles: every step is evaluated
    ("mse", 2e-3, 0.5),    # momentum keeps state: every step is evaluated
])
def test_steps_after_a_fixed_point_are_filled_in_bit_for_bit(monkeypatch, loss, lr, momentum):
    from gabordiag.descent.optim import SGD

    config, _ = resolve_config({**SMALL, "loss": loss})
    starts = TARGET - math.pi / 2 + math.pi * (np.arange(40) + 0.25) / 40
    engine = _Counting(Study(config).engine())
    fast = run_descents(engine, sgd(lr, momentum=momentum), starts[:, None], 400)
    fast_calls = engine.calls
    monkeypatch.setattr(SGD, "memoryless", property(lambda self: False))
    engine.calls = 0
    every = run_descents(engine, sgd(lr, momentum=momentum), starts[:, None], 400)
    assert engine.calls == 401
    for name in ("params", "loss", "grads", "stopped_at"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(every, name), err_msg=name)
    # what the judge reads of a batch that stored only the rows up to its fixed point
    for rows in (1, 6, 150, 401, 500):
        np.testing.assert_array_equal(fast.tail(rows), every.params[-rows:])
        np.testing.assert_array_equal(fast.loss_tail(rows), every.loss[-rows:])
    np.testing.assert_array_equal(fast.final(), every.final())
    some = np.array([3, 0, 7])
    np.testing.assert_array_equal(fast.subset(some).params, every.params[:, some])
    assert fast.n_steps == every.n_steps == 400
    assert judge(fast, engine.engine).kinds == judge(every, engine.engine).kinds
    if loss == "mse" and momentum == 0:
        assert fast_calls < 200
        assert len(fast.stored_params) == fast_calls  # the repeated rows are not stored
    else:
        assert fast_calls == 401


def test_the_batch_judge_in_blocks_of_runs_is_the_same(monkeypatch):
    # big batches are judged in blocks of runs to bound the memory: the same figures
    import gabordiag.descent.verdicts as verdicts

    config, _ = resolve_config({**SMALL, "loss": "mse", "lambda": 3})
    engine = Study(config).engine()
    starts = TARGET - math.pi / 2 + math.pi * (np.arange(60) + 0.5) / 60
    descents = run_descents(engine, sgd(3e-3), starts[:, None], 150)
    whole = judge(descents, engine)
    settle = steps_to_settle(descents.params[:, :, 0])
    monkeypatch.setattr(verdicts, "_BLOCK_VALUES", 400)  # a few runs per block
    blocks = judge(descents, engine)
    assert blocks.kinds == whole.kinds
    for name in ("coordinate", "turn_fraction", "net_over_path", "late_over_early_step",
                 "kernel_error", "plateau"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name), err_msg=name)
    np.testing.assert_array_equal(steps_to_settle(descents.params[:, :, 0]), settle)
