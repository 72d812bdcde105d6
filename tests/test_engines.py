"""The quadratic engine, the Gram build and engine selection, against the direct engine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gabordiag.config.choices import BOUNDARIES, ENGINES, MSE_FAMILY, OPS, PARAM_NAMES
from gabordiag.config.params import GaborParams
from gabordiag.core.images import make_image
from gabordiag.core.losses import Loss
from gabordiag.core.problem import Problem
from gabordiag.engines import choice
from gabordiag.engines.choice import allowed_engines, make_engine, quadratic_pays
from gabordiag.engines.direct import DirectEngine
from gabordiag.engines.gram import gram_matrix, gram_matrix_patches
from gabordiag.engines.quadratic import QuadraticEngine
from gabordiag.errors import ConfigError, LimitError

TARGET = GaborParams(theta=0.785, lambd=7.0, sigma=2.5, gamma=0.6, psi=0.4)
RTOL = 1e-10  # relative to the largest magnitude of each output
LEARN_SUBSETS = [("theta",), ("lambda", "sigma"), ("gamma", "psi", "theta"), PARAM_NAMES]


def make_problem(loss: str = "mse", learn: tuple[str, ...] = ("theta",), *,
                 op: str = "correlate", boundary: str = "valid", size: int = 32,
                 ksize: int = 7, target: GaborParams = TARGET,
                 image: str = "pink") -> Problem:
    return Problem(make_image(image, size=size, seed=3), ksize, target, learn, Loss(loss),
                   op=op, boundary=boundary)


def random_values(problem: Problem, count: int, seed: int = 0, scale: float = 0.4) -> np.ndarray:
    """Value vectors near (not at) the target, with positive lambda, sigma and gamma."""
    rng = np.random.default_rng(seed)
    base = problem.target_vector()
    return base * (1 + scale * rng.uniform(-1, 1, (count, len(base)))) + 0.1


def assert_engines_agree(reference, engine, values: np.ndarray, rtol: float = RTOL) -> None:
    for name, want, got in zip(("loss", "grad", "curv"), reference.loss_grad_curv(values),
                               engine.loss_grad_curv(values), strict=True):
        assert got.shape == want.shape, name
        scale = np.max(np.abs(want))
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * scale, err_msg=name)


# -- the Gram matrix ------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "ksize"), [
    ((20, 31), 5), ((31, 20), 5), ((9, 40), 9), ((40, 9), 9), ((11, 11), 11),
    ((13, 17), 1), ((25, 26), 3), ((7, 50), 7),
])
def test_gram_matches_patches(shape: tuple[int, int], ksize: int) -> None:
    image = np.random.default_rng(sum(shape)).standard_normal(shape) + 0.3
    fast, reference = gram_matrix(image, ksize), gram_matrix_patches(image, ksize)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-12 * np.abs(reference).max())


def test_gram_is_symmetric_and_positive_semidefinite() -> None:
    gram = gram_matrix(make_image("pink", size=40, seed=1), 9)
    np.testing.assert_array_equal(gram, gram.T)
    assert np.linalg.eigvalsh(gram).min() > -1e-12 * np.abs(gram).max()


def test_gram_patches_in_small_blocks_is_the_same() -> None:
    image = make_image("white", size=30, seed=2)
    whole = gram_matrix_patches(image, 5)
    np.testing.assert_allclose(gram_matrix_patches(image, 5, block_bytes=1), whole,
                               rtol=0, atol=1e-13 * np.abs(whole).max())


def test_gram_built_a_few_lags_at_a_time_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    image = np.random.default_rng(5).standard_normal((23, 18))
    whole = gram_matrix(image, 7)
    monkeypatch.setattr("gabordiag.engines.gram._BLOCK_BYTES", 1)  # one row lag per group
    np.testing.assert_allclose(gram_matrix(image, 7), whole, rtol=0,
                               atol=1e-14 * np.abs(whole).max())


def test_gram_of_a_constant_image_counts_the_patches() -> None:
    gram = gram_matrix(np.full((12, 15), 2.0), 5)
    np.testing.assert_allclose(gram, np.full((25, 25), 4.0 * 8 * 11), rtol=1e-12)


@pytest.mark.parametrize(("image", "ksize", "match"), [
    (np.zeros((4, 4)), 5, "smaller than the kernel"),
    (np.zeros((8, 8)), 4, "odd"),
    (np.zeros(8), 3, "2-D"),
])
def test_gram_checks_its_inputs(image: np.ndarray, ksize: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gram_matrix(image, ksize)


# -- the quadratic engine --------------------------------------------------------------

@pytest.mark.parametrize("loss", MSE_FAMILY)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("op", OPS)
def test_quadratic_matches_direct(loss: str, boundary: str, op: str) -> None:
    for learn in LEARN_SUBSETS:
        problem = make_problem(loss, learn, op=op, boundary=boundary)
        values = random_values(problem, 6, seed=len(learn))
        assert_engines_agree(DirectEngine(problem), QuadraticEngine(problem), values)


@pytest.mark.parametrize("loss", MSE_FAMILY)
def test_quadratic_at_the_target_is_exactly_zero(loss: str) -> None:
    problem = make_problem(loss, PARAM_NAMES, boundary="same")
    value, grad = QuadraticEngine(problem).loss_and_grad(problem.target_vector()[None])
    expected = np.sqrt(problem.loss.eps) if loss == "rmse-eps" else 0.0
    assert value[0] == pytest.approx(expected, abs=1e-300)
    np.testing.assert_array_equal(grad, 0.0)


@pytest.mark.parametrize("offset", [1e-4, 1e-6])
def test_quadratic_near_the_target_keeps_relative_precision(offset: float) -> None:
    # The direct engine loses digits there (a small difference of large numbers);
    # the quadratic form is compared with its own exact Taylor expansion instead.
    problem = make_problem("rmse", ("theta",))
    engine = QuadraticEngine(problem)
    theta = problem.target.theta
    value, grad, _ = engine.loss_grad_curv(np.array([[theta + offset], [theta - offset]]))
    slope = np.sqrt(0.5 * engine.mse_derivatives(np.array([[theta]]))[2][0, 0])
    np.testing.assert_allclose(value, slope * offset, rtol=1e-3)
    np.testing.assert_allclose(grad[:, 0], [slope, -slope], rtol=1e-3)


@pytest.mark.parametrize("loss", MSE_FAMILY)
def test_quadratic_matches_direct_near_the_target(loss: str) -> None:
    # Near zero loss both engines are compared with an absolute tolerance, scaled by
    # the size of the outputs away from the target.
    problem = make_problem(loss, ("theta", "lambda"), boundary="circular")
    direct, quadratic = DirectEngine(problem), QuadraticEngine(problem)
    far = direct.loss_grad_curv(random_values(problem, 4))
    target = problem.target_vector()
    near = target + np.array([[1e-3, 0.0], [0.0, -1e-6], [1e-7, 1e-7], [0.0, 0.0]])
    for name, want, got, scale in zip(("loss", "grad", "curv"), direct.loss_grad_curv(near),
                                      quadratic.loss_grad_curv(near), far, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9 * np.max(np.abs(scale)),
                                   err_msg=name)


def test_quadratic_mse_derivatives_are_consistent() -> None:
    problem = make_problem("mse", ("theta", "sigma"))
    engine = QuadraticEngine(problem)
    values = random_values(problem, 5)
    mse, grad, curv = engine.mse_derivatives(values)
    value, grad_loss, curv_loss = engine.loss_grad_curv(values)
    np.testing.assert_array_equal(engine.mse(values), mse)
    np.testing.assert_array_equal(engine.loss(values), value)
    np.testing.assert_allclose(grad_loss, grad, rtol=1e-15)
    assert curv is not None
    np.testing.assert_allclose(curv_loss, curv, rtol=1e-15)
    assert engine.mse_derivatives(values, order=1)[2] is None


def test_quadratic_batch_is_chunked_consistently(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = make_problem("rmse", ("theta", "psi"))
    engine = QuadraticEngine(problem)
    values = random_values(problem, 7)
    whole = engine.loss_grad_curv(values)
    monkeypatch.setattr("gabordiag.engines.quadratic._BLOCK_BYTES", 1)  # one row per chunk
    for want, got in zip(whole, engine.loss_grad_curv(values), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


def test_quadratic_reuses_a_given_gram_matrix() -> None:
    problem = make_problem("mse", ("sigma",))
    gram = gram_matrix(problem.padded, problem.ksize)
    assert QuadraticEngine(problem, gram).gram is gram
    with pytest.raises(ValueError, match="shape"):
        QuadraticEngine(problem, gram[:-1, :-1])


def test_quadratic_rejects_losses_outside_the_mse_family() -> None:
    with pytest.raises(ValueError, match="MSE family"):
        QuadraticEngine(make_problem("huber"))


def test_quadratic_checks_the_value_shape() -> None:
    engine = QuadraticEngine(make_problem("mse", ("theta", "sigma")))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        engine.loss(np.zeros((3, 3)))


# -- a bounded property test over random small configurations ----------------------

@st.composite
def configurations(draw: st.DrawFn) -> tuple[Problem, np.ndarray]:
    size = draw(st.integers(24, 48))
    ksize = draw(st.sampled_from([3, 5, 7, 9, 11]))
    boundary = draw(st.sampled_from(BOUNDARIES))
    target = GaborParams(theta=draw(st.floats(-3.2, 3.2)), lambd=draw(st.floats(2.5, 15)),
                         sigma=draw(st.floats(1.0, 6.0)), gamma=draw(st.floats(0.2, 1.5)),
                         psi=draw(st.floats(-3.2, 3.2)))
    learn = tuple(name for name in PARAM_NAMES if draw(st.booleans())) or ("theta",)
    problem = Problem(make_image(draw(st.sampled_from(["pink", "white"])), size=size,
                                 seed=draw(st.integers(0, 99))),
                      ksize, target, learn, Loss(draw(st.sampled_from(MSE_FAMILY))),
                      op=draw(st.sampled_from(OPS)), boundary=boundary)
    return problem, random_values(problem, 3, seed=draw(st.integers(0, 99)), scale=0.5)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_fast_engines_match_direct_on_random_configurations(
        config: tuple[Problem, np.ndarray]) -> None:
    problem, values = config
    direct = DirectEngine(problem)
    assert_engines_agree(direct, QuadraticEngine(problem), values, rtol=1e-9)
    if problem.learn == ("theta",):
        assert_engines_agree(direct, make_engine(problem, "spectral"), values, rtol=1e-9)


# -- choosing an engine ----------------------------------------------------------------

def test_engine_names() -> None:
    problem = make_problem("mse", ("theta",))
    assert ENGINES == ("auto", "direct", "quadratic", "spectral")
    assert {make_engine(problem, name).name for name in ENGINES[1:]} == set(ENGINES[1:])


def test_auto_takes_spectral_for_theta_only_mse_family() -> None:
    for loss in MSE_FAMILY:
        assert make_engine(make_problem(loss, ("theta",))).name == "spectral"


def test_auto_takes_quadratic_when_it_pays_and_direct_otherwise() -> None:
    problem = make_problem("rmse", ("theta", "sigma"), size=64, ksize=11)
    assert not quadratic_pays(problem, 1)
    assert quadratic_pays(problem, 100_000)
    assert make_engine(problem, evaluations=1).name == "direct"
    assert make_engine(problem, evaluations=100_000).name == "quadratic"


def test_auto_takes_direct_outside_the_mse_family() -> None:
    for loss in ("l1", "huber"):
        engine = make_engine(make_problem(loss, ("theta",)), evaluations=10**6)
        assert engine.name == "direct"


def test_auto_falls_back_to_quadratic_when_the_series_does_not_converge(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class NoSeries:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise LimitError("did not converge")

    monkeypatch.setattr("gabordiag.engines.choice.SpectralEngine", NoSeries)
    assert make_engine(make_problem("mse", ("theta",))).name == "quadratic"


def test_auto_avoids_a_gram_matrix_that_would_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choice, "GRAM_LIMIT_BYTES", 1000)
    problem = make_problem("mse", ("theta",))
    assert allowed_engines(problem) == ("auto", "direct")
    assert make_engine(problem).name == "direct"
    with pytest.raises(LimitError, match="--engine quadratic: the Gram matrix"):
        make_engine(problem, "quadratic")


@pytest.mark.parametrize(("loss", "learn", "name", "message"), [
    ("mse", ("theta", "sigma"), "spectral",
     "--engine spectral needs --learn theta and a loss in mse, rmse, rmse-eps"),
    ("huber", ("theta",), "spectral",
     "--engine spectral needs --learn theta and a loss in mse, rmse, rmse-eps"),
    ("l1", ("theta",), "quadratic", "--engine quadratic needs a loss in mse, rmse, rmse-eps"),
])
def test_forcing_an_engine_that_cannot_handle_the_problem(
        loss: str, learn: tuple[str, ...], name: str, message: str) -> None:
    problem = make_problem(loss, learn)
    with pytest.raises(ConfigError, match=message) as info:
        make_engine(problem, name)
    text = str(info.value)
    assert "\n" not in text
    assert f"allowed here: {', '.join(allowed_engines(problem))}" in text


def test_unknown_engine_name() -> None:
    with pytest.raises(ConfigError, match="--engine: unknown engine 'fast'; allowed: auto"):
        make_engine(make_problem(), "fast")


def test_evaluations_must_be_positive() -> None:
    with pytest.raises(ValueError, match="evaluations"):
        make_engine(make_problem(), evaluations=0)
