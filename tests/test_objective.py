"""DirectEngine against scipy.signal, numpy loss formulas and finite differences."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from scipy import signal

import gabordiag.engines.direct as direct_module
from gabordiag.config.choices import BOUNDARIES, LOSSES, OPS, PARAM_NAMES
from gabordiag.config.params import GaborParams
from gabordiag.core.images import make_image
from gabordiag.core.kernel import gabor_kernel
from gabordiag.core.losses import Loss
from gabordiag.core.problem import Problem, pad_image
from gabordiag.engines.direct import DirectEngine

PI = math.pi
TARGET = GaborParams(theta=0.6, lambd=5.0, sigma=2.0, gamma=0.6, psi=0.3)
KSIZE = 9
LEARN_SETS = [("theta",), ("theta", "sigma"), PARAM_NAMES]


@pytest.fixture(scope="module")
def image():
    # non-square on purpose, so rows and columns cannot be swapped unnoticed
    return make_image("pink", size=48, seed=1)[:40, :]


def residuals(engine: DirectEngine, values: np.ndarray) -> np.ndarray:
    """Output minus target output, ``(B, h, w)``."""
    return engine.outputs(values) - engine.target_output


def _problem(image, loss="mse", op="correlate", boundary="valid", learn=("theta",),
             target=TARGET, ksize=KSIZE):
    return Problem(image=image, ksize=ksize, target=target, learn=tuple(learn),
                   loss=Loss(loss), op=op, boundary=boundary)


def _kernel(params: dict[str, float], ksize=KSIZE):
    return gabor_kernel(ksize, sigma=params["sigma"], theta=params["theta"],
                        lambd=params["lambda"], gamma=params["gamma"], psi=params["psi"])


def _scipy_output(image, kernel, op, boundary):
    """The layer's output computed with scipy.signal, independently of the engine."""
    fn = signal.correlate2d if op == "correlate" else signal.convolve2d
    if boundary == "valid":
        return fn(image, kernel, mode="valid")
    if boundary == "same":
        return fn(image, kernel, mode="same", boundary="fill", fillvalue=0)
    return fn(image, kernel, mode="same", boundary="wrap")


def _reference_loss(r, name, eps=1e-3, delta=1.0):
    """PyTorch's definitions, mean reduction."""
    mse = np.mean(r**2)
    if name == "mse":
        return mse
    if name == "rmse":
        return np.sqrt(mse)
    if name == "rmse-eps":
        return np.sqrt(mse + eps)
    a = np.abs(r)
    if name == "l1":
        return np.mean(a)
    if name == "huber":
        return np.mean(np.where(a < delta, 0.5 * r**2, delta * (a - 0.5 * delta)))
    raise AssertionError(name)


def _away_values(problem):
    """Two value vectors away from the target (no rmse/l1/huber kink nearby)."""
    offsets = {"theta": (0.35, -0.5), "lambda": (0.6, -0.4), "sigma": (0.3, -0.25),
               "gamma": (0.15, 0.1), "psi": (-0.4, 0.5)}
    t = problem.target_vector()
    return np.array([[t[j] + offsets[name][i] for j, name in enumerate(problem.learn)]
                     for i in range(2)])


# -- outputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "boundary"), list(product(OPS, BOUNDARIES)))
def test_outputs_match_scipy(image, op, boundary):
    problem = _problem(image, op=op, boundary=boundary, learn=PARAM_NAMES)
    engine = DirectEngine(problem)
    values = np.array([[0.6, 5.0, 2.0, 0.6, 0.3], [-1.0, 7.0, 3.0, 1.3, 2.0],
                       [2.5, 3.5, 1.5, 0.4, -0.7]])
    out = engine.outputs(values)
    assert out.shape == (3, *problem.out_shape)
    for row, v in zip(out, values):
        ref = _scipy_output(image, _kernel(dict(zip(PARAM_NAMES, v))), op, boundary)
        assert ref.shape == row.shape
        np.testing.assert_allclose(row, ref, rtol=0, atol=1e-11)


@pytest.mark.parametrize(("op", "boundary"), list(product(OPS, BOUNDARIES)))
def test_target_output_is_output_at_target(image, op, boundary):
    engine = DirectEngine(_problem(image, op=op, boundary=boundary, learn=("theta", "psi")))
    ref = _scipy_output(image, _kernel(TARGET.as_dict()), op, boundary)
    np.testing.assert_allclose(engine.target_output, ref, rtol=0, atol=1e-11)
    np.testing.assert_allclose(residuals(engine, engine.problem.target_vector()),
                               np.zeros((1, *ref.shape)), atol=1e-11)


def test_out_shape_per_boundary(image):
    h, w = image.shape
    assert _problem(image, boundary="valid").out_shape == (h - KSIZE + 1, w - KSIZE + 1)
    assert _problem(image, boundary="same").out_shape == (h, w)
    assert _problem(image, boundary="circular").out_shape == (h, w)
    assert _problem(image, boundary="same").n_out == h * w


def test_convolve_differs_from_correlate_for_asymmetric_kernel(image):
    # guard: the op must matter for these parameters, or the tests above prove little
    a = DirectEngine(_problem(image, op="correlate")).target_output
    b = DirectEngine(_problem(image, op="convolve")).target_output
    assert float(np.abs(a - b).max()) > 0.1


def test_pad_image_and_problem_errors(image):
    with pytest.raises(ValueError, match="boundary"):
        pad_image(image, 5, "reflect")
    with pytest.raises(ValueError, match="boundary"):
        _problem(image, boundary="mirror")
    with pytest.raises(ValueError, match="smaller than the kernel"):
        _problem(image[:6, :6], boundary="valid", ksize=9)
    # padding makes a small image usable with same/circular boundaries
    assert _problem(image[:6, :6], boundary="same", ksize=9).out_shape == (6, 6)


def test_full_params(image):
    problem = _problem(image, learn=("sigma", "theta"))
    np.testing.assert_array_equal(problem.target_vector(), [2.0, 0.6])
    full = problem.full_params(np.array([[3.0, 1.0], [4.0, 2.0]]))
    np.testing.assert_array_equal(full["sigma"], [3.0, 4.0])
    np.testing.assert_array_equal(full["theta"], [1.0, 2.0])
    np.testing.assert_array_equal(full["lambda"], [5.0, 5.0])


# -- loss values -----------------------------------------------------------------------------

@pytest.mark.parametrize(("loss", "op", "boundary"), list(product(LOSSES, OPS, BOUNDARIES)))
def test_loss_values_match_numpy(image, loss, op, boundary):
    problem = _problem(image, loss=loss, op=op, boundary=boundary, learn=("theta", "lambda"))
    engine = DirectEngine(problem)
    target_out = _scipy_output(image, _kernel(TARGET.as_dict()), op, boundary)
    values = np.array([[0.6, 5.0], [0.9, 5.0], [-1.0, 4.0], [0.6, 9.0]])
    got = engine.loss(values)
    for value, v in zip(got, values):
        params = dict(TARGET.as_dict(), theta=v[0], **{"lambda": v[1]})
        r = _scipy_output(image, _kernel(params), op, boundary) - target_out
        assert value == pytest.approx(_reference_loss(r, loss), rel=1e-10, abs=1e-12)
    at_target = math.sqrt(1e-3) if loss == "rmse-eps" else 0.0
    assert got[0] == pytest.approx(at_target, abs=1e-10)


@pytest.mark.parametrize(("name", "kwargs"), [("rmse-eps", {"eps": 0.25}),
                                              ("huber", {"delta": 0.3}),
                                              ("huber", {"delta": 4.0})])
def test_loss_hyper_parameters(image, name, kwargs):
    problem = Problem(image=image, ksize=KSIZE, target=TARGET, learn=("theta",),
                      loss=Loss(name, **kwargs))
    engine = DirectEngine(problem)
    r = residuals(engine, np.array([[1.1]]))[0]
    assert float(np.abs(r).max()) > 1.0  # residuals on both sides of every delta
    assert engine.loss(np.array([[1.1]]))[0] == pytest.approx(
        _reference_loss(r, name, **kwargs), rel=1e-12)


# -- gradients and curvature vs finite differences --------------------------------------------

def _fd_points(values, h):
    """values (B, n) -> stacked [v + h e_j, v - h e_j] for every j, shape (B, n, 2, n)."""
    n = values.shape[1]
    steps = np.eye(n) * h
    return np.stack([values[:, None, :] + steps, values[:, None, :] - steps], axis=2)


def _assert_no_kink_crossed(engine, values, h, second_order=False):
    """No finite-difference step may cross a point where the loss is not smooth enough.

    l1's rho' jumps where a residual changes sign; huber's rho' is continuous and only
    rho'' jumps at |r| = delta, which matters for differences of the gradient. (rmse's
    kink is at the target, which ``_away_values`` stays clear of.)
    """
    loss = engine.problem.loss
    if loss.name not in ("l1", "huber") or (loss.name == "huber" and not second_order):
        return
    pts = _fd_points(values, h).reshape(-1, values.shape[1])
    res = residuals(engine, pts)
    centre = np.repeat(residuals(engine, values), 2 * values.shape[1], axis=0)
    if loss.name == "l1":
        assert np.all(np.sign(res) == np.sign(centre)), "finite-difference step crosses a kink"
    else:
        inside = np.abs(res) < loss.delta
        assert np.all(inside == (np.abs(centre) < loss.delta)), "step crosses |r| = delta"


GRAD_CASES = list(product(LOSSES, BOUNDARIES, OPS, range(len(LEARN_SETS))))


@pytest.mark.parametrize(("loss", "boundary", "op", "learn_idx"), GRAD_CASES)
def test_gradient_vs_finite_differences(image, loss, boundary, op, learn_idx):
    img = image[:32, :36]
    problem = _problem(img, loss=loss, op=op, boundary=boundary, learn=LEARN_SETS[learn_idx])
    engine = DirectEngine(problem)
    values = _away_values(problem)
    h = 1e-6
    _assert_no_kink_crossed(engine, values, h)
    _, grad = engine.loss_and_grad(values)
    b, n = values.shape
    pts = _fd_points(values, h)
    lv = engine.loss(pts.reshape(-1, n)).reshape(b, n, 2)
    fd = (lv[..., 0] - lv[..., 1]) / (2 * h)
    scale = max(float(np.abs(grad).max()), 1e-3)
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-8 * scale)
    assert float(np.abs(grad).max()) > 1e-3  # not trivially zero


@pytest.mark.parametrize(("loss", "boundary", "op"), list(product(LOSSES, BOUNDARIES, OPS)))
@pytest.mark.parametrize("learn", [("theta",), PARAM_NAMES])
def test_curvature_vs_finite_differences_of_gradient(image, loss, boundary, op, learn):
    img = image[:32, :36]
    problem = _problem(img, loss=loss, op=op, boundary=boundary, learn=learn)
    engine = DirectEngine(problem)
    values = _away_values(problem)
    h = 1e-6
    _assert_no_kink_crossed(engine, values, h, second_order=True)
    value, grad, curv = engine.loss_grad_curv(values)
    v2, g2 = engine.loss_and_grad(values)
    np.testing.assert_allclose(value, v2, rtol=1e-13)
    np.testing.assert_allclose(grad, g2, rtol=1e-12, atol=1e-14)
    b, n = values.shape
    _, gp = engine.loss_and_grad(_fd_points(values, h).reshape(-1, n))
    gp = gp.reshape(b, n, 2, n)
    idx = np.arange(n)
    fd = (gp[:, idx, 0, idx] - gp[:, idx, 1, idx]) / (2 * h)
    scale = max(float(np.abs(curv).max()), 1e-2)
    np.testing.assert_allclose(curv, fd, rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("loss", ["mse", "rmse", "rmse-eps"])
def test_gradient_vanishes_at_target(image, loss):
    engine = DirectEngine(_problem(image, loss=loss, learn=PARAM_NAMES))
    value, grad = engine.loss_and_grad(engine.problem.target_vector())
    assert value[0] == pytest.approx(math.sqrt(1e-3) if loss == "rmse-eps" else 0.0,
                                     abs=1e-10)
    np.testing.assert_allclose(grad, 0.0, atol=1e-8)


def test_mse_curvature_at_target_is_gauss_newton(image):
    # at the target r = 0, so L'' = (2 / P) |d(output)/d theta|^2: compute the response
    # with scipy from a finite-difference kernel derivative
    problem = _problem(image, loss="mse", learn=("theta",))
    engine = DirectEngine(problem)
    h = 1e-6
    dk = (_kernel(dict(TARGET.as_dict(), theta=TARGET.theta + h))
          - _kernel(dict(TARGET.as_dict(), theta=TARGET.theta - h))) / (2 * h)
    response = signal.correlate2d(image, dk, mode="valid")
    expected = 2.0 / response.size * np.sum(response**2)
    _, _, curv = engine.loss_grad_curv(problem.target_vector())
    assert curv[0, 0] == pytest.approx(expected, rel=1e-6)


def test_batches_are_chunked_consistently(image, monkeypatch):
    problem = _problem(image, loss="huber", learn=("theta", "gamma"))
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.uniform(-PI, PI, 7), rng.uniform(0.3, 1.2, 7)])
    whole = DirectEngine(problem).loss_grad_curv(values)
    monkeypatch.setattr(direct_module, "_BATCH_BYTES", 1)  # one value vector per chunk
    engine = DirectEngine(problem)
    assert len(engine._chunks(values)) == 7
    chunked = engine.loss_grad_curv(values)
    singles = [engine.loss_grad_curv(v[None]) for v in values]
    for i in range(3):
        np.testing.assert_allclose(chunked[i], whole[i], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.concatenate([s[i] for s in singles]), whole[i],
                                   rtol=1e-12, atol=1e-14)


# -- the reference physics (DESIGN.md) ----------------------------------------------------------

REF_TARGET = GaborParams(theta=PI / 4, lambd=10.0, sigma=4.0, gamma=0.5, psi=0.0)


@pytest.fixture(scope="module")
def reference_image():
    return make_image("pink", size=128, seed=5)


def _reference_engine(img, loss="mse", psi=0.0):
    return DirectEngine(Problem(image=img, ksize=21, target=REF_TARGET.replace(psi=psi),
                                learn=("theta",), loss=Loss(loss)))


def test_reference_mse_curvature_at_target(reference_image):
    engine = _reference_engine(reference_image, "mse")
    _, grad, curv = engine.loss_grad_curv(np.array([[PI / 4]]))
    assert abs(grad[0, 0]) < 1e-8
    assert 3e3 <= curv[0, 0] <= 6e3  # DESIGN.md quotes ~4.4e3
    # plain gradient descent is stable only for lr < 2 / curvature (~4.6e-4 in DESIGN)
    assert 2 / curv[0, 0] < 1e-3


def test_reference_rmse_slope_does_not_vanish(reference_image):
    engine = _reference_engine(reference_image, "rmse")
    _, grad = engine.loss_and_grad(np.array([[PI / 4 + 1e-3], [PI / 4 - 1e-3]]))
    right, left = grad[:, 0]
    assert 30 < right < 70  # DESIGN.md quotes ~47
    assert -70 < left < -30
    # rmse ~ sqrt(mse'' / 2) |theta - theta*| near the minimum
    _, _, curv = _reference_engine(reference_image, "mse").loss_grad_curv(
        np.array([[PI / 4]]))
    assert right == pytest.approx(math.sqrt(curv[0, 0] / 2), rel=0.02)
    assert -left == pytest.approx(math.sqrt(curv[0, 0] / 2), rel=0.02)


def test_reference_loss_pi_periodic_for_psi_zero(reference_image):
    engine = _reference_engine(reference_image, "mse", psi=0.0)
    thetas = np.linspace(-PI, PI, 9)[:, None]
    a = engine.loss(thetas)
    np.testing.assert_allclose(engine.loss(thetas + PI), a, rtol=1e-9, atol=1e-12)
    # -pi/4 is the same as 3pi/4, pi/2 away from the target: far from the minimum
    far = engine.loss(np.array([[-PI / 4], [3 * PI / 4], [PI / 4 + PI]]))
    assert far[0] == pytest.approx(far[1], rel=1e-9)
    assert far[2] == pytest.approx(0.0, abs=1e-10)
    assert far[0] > 100 * engine.loss(np.array([[PI / 4 + 0.01]]))[0]


def test_reference_loss_not_pi_periodic_for_psi_nonzero(reference_image):
    engine = _reference_engine(reference_image, "mse", psi=0.5)
    thetas = np.linspace(-PI, PI, 9)[:, None]
    a = engine.loss(thetas)
    b = engine.loss(thetas + PI)
    assert float(np.abs(a - b).max()) > 0.05 * float(np.abs(a).max())
    # the equivalent angle theta* + pi is no longer a global minimum
    assert engine.loss(np.array([[PI / 4 + PI]]))[0] > 0.05 * float(a.max())
    np.testing.assert_allclose(engine.loss(thetas + 2 * PI), a, rtol=1e-9, atol=1e-12)
