"""The spectral engine: agreement with the direct engine, the series, stationary points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from gabordiag.config.choices import BOUNDARIES, MSE_FAMILY, OPS
from gabordiag.config.params import GaborParams
from gabordiag.core.images import make_image
from gabordiag.core.losses import Loss
from gabordiag.core.problem import Problem
from gabordiag.engines.direct import DirectEngine
from gabordiag.engines.roots import RootBounds, periodic_roots
from gabordiag.engines.spectral import SpectralEngine
from gabordiag.errors import LimitError

REFERENCE = GaborParams(theta=0.785, lambd=10, sigma=4, gamma=0.5, psi=0)
RTOL = 1e-10  # relative to the largest magnitude of each output


def make_problem(loss: str = "mse", *, psi: float = 0.0, op: str = "correlate",
                 boundary: str = "valid", image: str = "pink", size: int = 48,
                 ksize: int = 11, seed: int = 0) -> Problem:
    return Problem(make_image(image, size=size, seed=seed, theta=0.3, wavelength=7.0),
                   ksize, REFERENCE.replace(psi=psi), ("theta",), Loss(loss),
                   op=op, boundary=boundary)


def angles(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-7, 7, (count, 1))


def assert_engines_agree(reference, engine, values: np.ndarray, rtol: float = RTOL) -> None:
    for name, want, got in zip(("loss", "grad", "curv"), reference.loss_grad_curv(values),
                               engine.loss_grad_curv(values), strict=True):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * np.max(np.abs(want)),
                                   err_msg=name)


def direct_mse_slope(direct: DirectEngine, theta: np.ndarray) -> np.ndarray:
    """d mse / d theta from the direct engine (the problem's loss must be mse)."""
    return direct.loss_and_grad(np.asarray(theta, dtype=np.float64).reshape(-1, 1))[1][:, 0]


# -- agreement with the direct engine -------------------------------------------------

@pytest.mark.parametrize("loss", MSE_FAMILY)
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("op", OPS)
def test_spectral_matches_direct(loss: str, boundary: str, op: str) -> None:
    for psi in (0.0, 0.9):
        problem = make_problem(loss, psi=psi, op=op, boundary=boundary, size=32, ksize=9)
        assert_engines_agree(DirectEngine(problem), SpectralEngine(problem), angles(40))


@pytest.mark.parametrize("loss", MSE_FAMILY)
def test_spectral_matches_direct_near_the_minima(loss: str) -> None:
    problem = make_problem(loss)
    direct, spectral = DirectEngine(problem), SpectralEngine(problem)
    far = direct.loss_grad_curv(angles(20))
    theta = problem.target.theta
    near = np.array([[theta], [theta + 1e-3], [theta - 1e-6], [theta + np.pi + 1e-5]])
    for name, want, got, scale in zip(("loss", "grad", "curv"), direct.loss_grad_curv(near),
                                      spectral.loss_grad_curv(near), far, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9 * np.max(np.abs(scale)),
                                   err_msg=name)


def test_rmse_near_the_target_has_full_relative_precision() -> None:
    # rmse = sqrt(m''(theta*) / 2) |delta| (1 + O(delta)); the direct engine cannot
    # resolve delta = 1e-9, the factored series can.
    engine = SpectralEngine(make_problem("rmse"))
    theta = engine.problem.target.theta
    slope = np.sqrt(0.5 * engine.mse_derivatives(theta)[2])
    for delta in (1e-6, 1e-9, 1e-12):
        values = np.array([[theta + delta], [theta - delta]])
        exact = (values[:, 0] - theta) * np.array([1, -1])  # the representable offsets
        loss, grad, curv = engine.loss_grad_curv(values)
        np.testing.assert_allclose(loss, slope * exact, rtol=10 * delta)
        np.testing.assert_allclose(grad[:, 0], [slope, -slope], rtol=10 * delta)
        assert np.all(np.isfinite(curv))
    # the curvature is smooth on each side of the kink: no 1/delta blow-up
    # (it changes linearly in delta, so by ~1000x less from 1e-9 to 1e-12)
    _, _, curv = engine.loss_grad_curv(theta + np.array([[1e-6], [1e-9], [1e-12]]))
    assert curv[1, 0] == pytest.approx(curv[0, 0], rel=1e-3)
    assert curv[2, 0] == pytest.approx(curv[1, 0], rel=1e-6)


def test_spectral_at_the_target_is_exactly_zero() -> None:
    engine = SpectralEngine(make_problem("rmse"))
    loss, grad, curv = engine.loss_grad_curv(np.array([[engine.problem.target.theta]]))
    assert (loss[0], grad[0, 0], curv[0, 0]) == (0.0, 0.0, 0.0)


# -- the series ------------------------------------------------------------------------

@pytest.mark.parametrize(("psi", "period"), [(0.0, np.pi), (np.pi, np.pi), (0.9, 2 * np.pi)])
def test_period_and_tail(psi: float, period: float) -> None:
    engine = SpectralEngine(make_problem("mse", psi=psi))
    assert engine.period == pytest.approx(period)
    assert engine.tail_ratio < 1e-13
    assert engine.n_samples >= 256
    assert 1 < engine.n_modes < engine.n_samples // 2
    theta = angles(10)
    np.testing.assert_allclose(engine.loss(theta + period), engine.loss(theta),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.slow
def test_the_grid_doubles_until_the_tail_is_small() -> None:
    # A wide kernel with a short wavelength needs more than 256 samples per period.
    problem = Problem(make_image("white", size=64, seed=1), 41,
                      GaborParams(theta=0.4, lambd=2.5, sigma=12, gamma=0.3, psi=0.5),
                      ("theta",), Loss("mse"))
    engine = SpectralEngine(problem)
    assert engine.n_samples > 256
    assert engine.tail_ratio < 1e-13
    assert_engines_agree(DirectEngine(problem), engine, angles(20))


def test_the_series_that_does_not_converge_is_refused() -> None:
    with pytest.raises(LimitError, match=r"did not converge.*--engine quadratic"):
        SpectralEngine(make_problem("mse"), tol=1e-40, max_samples=512)


def test_fourier_series_reproduces_the_mse() -> None:
    engine = SpectralEngine(make_problem("mse", psi=0.9))
    a, b = engine.fourier_series()
    assert b[0] == 0.0
    theta = angles(25)[:, 0]
    phase = np.outer(theta, 2 * np.pi / engine.period * np.arange(len(a)))
    series = np.cos(phase) @ a + np.sin(phase) @ b
    mse = engine.mse_derivatives(theta)[0]
    np.testing.assert_allclose(series, mse, rtol=0, atol=1e-12 * np.max(mse))


def test_mse_derivatives_keep_the_shape_and_order() -> None:
    engine = SpectralEngine(make_problem("mse"))
    theta = angles(6).reshape(2, 3)
    m, dm, d2m = engine.mse_derivatives(theta)
    assert m.shape == dm.shape == d2m.shape == (2, 3)
    m1, dm1, d2m1 = engine.mse_derivatives(theta, order=1)
    np.testing.assert_allclose(m1, m, rtol=1e-14)
    np.testing.assert_allclose(dm1, dm, rtol=1e-14)
    np.testing.assert_array_equal(d2m1, 0.0)
    np.testing.assert_allclose(engine.loss(theta.reshape(-1, 1)), m.reshape(-1), rtol=1e-14)


def test_spectral_rejects_what_it_cannot_handle() -> None:
    image = make_image("pink", size=32, seed=0)
    with pytest.raises(ValueError, match="learn"):
        SpectralEngine(Problem(image, 7, REFERENCE, ("theta", "sigma"), Loss("mse")))
    with pytest.raises(ValueError, match="MSE family"):
        SpectralEngine(Problem(image, 7, REFERENCE, ("theta",), Loss("l1")))
    with pytest.raises(ValueError, match=r"\(B, 1\)"):
        SpectralEngine(make_problem()).loss(np.zeros((2, 2)))


# -- stationary points -----------------------------------------------------------------

def reference_roots(problem: Problem, period: float, points: int = 4000) -> np.ndarray:
    """Roots of the direct engine's d mse / d theta: dense sign changes + brentq."""
    direct = DirectEngine(problem)
    grid = np.linspace(0, period, points + 1)
    slope = direct_mse_slope(direct, grid)
    roots = [grid[i] for i in np.nonzero(slope == 0)[0]]
    for i in np.nonzero(np.sign(slope[:-1]) * np.sign(slope[1:]) < 0)[0]:
        roots.append(brentq(lambda t: direct_mse_slope(direct, [t])[0], grid[i], grid[i + 1],
                            xtol=1e-14))
    return np.unique(np.mod(roots, period))


def circular_gap(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    gap = np.abs(np.subtract.outer(a, b)) % period
    return np.minimum(gap, period - gap)


@pytest.mark.parametrize(("image", "psi", "boundary"), [
    ("pink", 0.0, "valid"), ("pink", 0.9, "same"), ("white", 2.0, "circular"),
    ("grating", 0.0, "valid"), ("grating", 1.3, "same"),
])
@pytest.mark.slow
def test_stationary_points_match_dense_sampling(image: str, psi: float, boundary: str) -> None:
    problem = make_problem("mse", psi=psi, image=image, boundary=boundary)
    engine = SpectralEngine(problem)
    found = engine.stationary_angles()
    expected = reference_roots(problem, engine.period)
    assert len(expected) > 0
    # none missed: every sign change of the direct slope is a stationary point ...
    assert np.all(circular_gap(expected, found, engine.period).min(axis=1) < 1e-8)
    # ... and every stationary point is a zero of the direct slope
    direct = DirectEngine(problem)
    slope_scale = np.max(np.abs(direct_mse_slope(direct, np.linspace(0, 7, 200))))
    assert np.all(np.abs(direct_mse_slope(direct, found)) < 1e-9 * slope_scale)
    assert list(found) == sorted(found)
    assert np.all((found >= 0) & (found < engine.period))


def product_of_sines(roots: np.ndarray, noise: float = 1e-14):
    """``f(x) = prod sin((x - r_i) / 2)`` (period 2 pi for an even count), its slope, and
    bounds on its slope and curvature (each factor and its derivatives are at most 1,
    1/2, 1/4); ``noise`` is the rounding the search allows for."""
    def derivatives(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.sin(0.5 * np.subtract.outer(x, roots))  # (len(x), k)
        c = 0.5 * np.cos(0.5 * np.subtract.outer(x, roots))
        value = np.prod(s, axis=1)
        slope = np.zeros_like(value)
        for i in range(len(roots)):
            slope += c[:, i] * np.prod(np.delete(s, i, axis=1), axis=1)
        return value, slope

    k = len(roots)
    bounds = RootBounds(slope=k / 2, curvature=k * k / 4, noise=noise, slope_noise=noise)
    return derivatives, bounds


def test_periodic_roots_finds_roots_closer_than_the_grid() -> None:
    # three roots within one interval of the first grid, with a sign change across it
    # (a bracket would find one of them), and a pair without one
    roots = np.array([1.0, 1.001, 1.002, 4.0, 4.0005, 5.5])
    derivatives, bounds = product_of_sines(roots)
    found = periodic_roots(derivatives, lambda x: derivatives(x)[0], 0.0, 2 * np.pi, 64,
                           bounds)
    # every root found, nothing else: f is 1e-14 (the stated noise) within 4e-8 of the
    # roots of the cluster, where it is that flat, so they are known to that
    assert np.all(circular_gap(roots, found, 2 * np.pi).min(axis=1) < 1e-7)
    assert np.all(circular_gap(found, roots, 2 * np.pi).min(axis=1) < 1e-7)


def test_periodic_roots_resolves_a_cluster_of_six_without_blowing_up() -> None:
    # a cluster of six roots is where the certificates need ever finer intervals: the
    # search stops at its cap and resolves the cluster by its sign changes
    roots = 3.0 + 2e-4 * np.arange(6)
    # f is 1e-24 between these roots, computed to full relative precision: a rounding
    # allowance of 1e-30 lets the search tell them apart
    derivatives, bounds = product_of_sines(roots, noise=1e-30)
    found = periodic_roots(derivatives, lambda x: derivatives(x)[0], 0.0, 2 * np.pi, 64,
                           bounds)
    assert np.all(circular_gap(roots, found, 2 * np.pi).min(axis=1) < 1e-6)
    assert np.all(np.abs(found - 3.0005) < 1e-3)


def test_a_landscape_flat_to_rounding_over_a_stretch_yields_no_noise_points() -> None:
    # a line-thin envelope: hundreds of modes, and stretches where the slope is at its
    # rounding floor; no stationary point comes from a sign flip within the rounding
    problem = make_problem("mse", size=32, ksize=5)
    problem = Problem(problem.image, 5, REFERENCE.replace(gamma=158.0), ("theta",),
                      Loss("mse"))
    engine = SpectralEngine(problem)
    found = engine.stationary_angles()
    slope = engine.mse_derivatives(found)[1]
    scale = np.max(np.abs(engine.mse_derivatives(np.linspace(0, np.pi, 4001))[1]))
    assert len(found) < 200
    # every point is a zero of the slope to the series' own accuracy
    assert np.all(np.abs(slope) <= 1e-9 * scale)


def test_periodic_roots_reports_a_root_beside_a_grid_point_once() -> None:
    # a root 1e-9 beside a grid point, where |f| is within the stated rounding: the sign
    # change on one side and the end at the rounding level on the other are one root
    # (two monotone intervals that touch hold at most one root)
    beside = 10 * (2 * np.pi / 64) + 1e-9
    roots = np.array([beside, 4.0])
    derivatives, bounds = product_of_sines(roots, noise=1e-6)
    found = periodic_roots(derivatives, lambda x: derivatives(x)[0], 0.0, 2 * np.pi, 64,
                           bounds)
    assert len(found) == len(roots)
    assert np.all(circular_gap(roots, found, 2 * np.pi).min(axis=1) < 1e-5)


def test_periodic_roots_takes_pointwise_rounding_bounds() -> None:
    # f = sin^3 has a triple root at 0; computed as a small factor times a series, its
    # rounding is as small as its values there. The largest rounding (1e-6) everywhere
    # would make |f| <= noise for |x| < 1e-2, a stretch no certificate settles; with the
    # pointwise bound the root is found where it is, once, and nothing else near it
    # (the zone where even that rounding hides it is a run of intervals across which f
    # changes sign: one point)
    def derivatives(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.sin(x)
        return s**3, 3 * s**2 * np.cos(x)

    bounds = RootBounds(slope=3.0, curvature=7.0, noise=1e-6, slope_noise=1e-6,
                        local=lambda x: (1e-16 * np.abs(np.sin(x)), 1e-16 * np.ones_like(x)))
    np.testing.assert_array_equal(bounds.at(np.zeros(3))[1], 1e-16)
    found = periodic_roots(derivatives, lambda x: derivatives(x)[0], -1.0, 2 * np.pi, 64,
                           bounds)
    # within the stretch where sin^3 is below its pointwise rounding (|x| < 1e-8)
    near = np.unique(np.round(found[np.abs(found) < 0.5], 7))
    assert len(near) == 1
    assert abs(near[0]) < 1e-8
    assert np.min(np.abs(found - np.pi)) < 1e-8  # the other triple root


def test_periodic_roots_reports_a_double_root() -> None:
    roots = np.array([2.0, 2.0, 3.0, 5.0])  # f and f' vanish at 2
    derivatives, bounds = product_of_sines(roots)
    found = np.unique(np.round(periodic_roots(derivatives, lambda x: derivatives(x)[0], 0.0,
                                              2 * np.pi, 64, bounds), 6))
    np.testing.assert_allclose(found, [2.0, 3.0, 5.0], atol=1e-6)


@settings(max_examples=30, deadline=None, database=None)
@given(st.floats(0.0, 1.0), st.lists(st.floats(1e-4, 0.05), min_size=1, max_size=4))
def test_periodic_roots_misses_no_root_of_close_pairs(offset: float, gaps: list[float]
                                                      ) -> None:
    centres = offset + 1.5 * np.arange(len(gaps))  # pairs of roots, gap apart
    roots = np.sort(np.concatenate([[c, c + g] for c, g in zip(centres, gaps)]))
    derivatives, bounds = product_of_sines(roots)
    found = periodic_roots(derivatives, lambda x: derivatives(x)[0], 0.0, 2 * np.pi, 64,
                           bounds)
    assert np.all(circular_gap(roots, found, 2 * np.pi).min(axis=1) < 1e-6)
    assert np.all(circular_gap(found, roots, 2 * np.pi).min(axis=1) < 1e-6)


def test_stationary_angles_alternate_between_minima_and_maxima() -> None:
    engine = SpectralEngine(make_problem("rmse", psi=0.9))
    found = engine.stationary_angles()
    target = engine.problem.target.theta % engine.period
    assert np.count_nonzero(found == target) == 1  # the target, snapped exactly
    mse, _, d2mse = engine.mse_derivatives(found)
    assert mse[found == target][0] == 0.0
    kinds = np.sign(d2mse)
    assert np.all(kinds != 0)
    # simple stationary points of a periodic function alternate
    assert np.all(kinds != np.roll(kinds, -1))
    assert kinds[found == target][0] > 0
    loss = engine.loss(found[:, None])
    np.testing.assert_allclose(loss, np.sqrt(mse), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("lambd", "gamma"), [(0.1, 0.5), (10.0, 100.0)])
def test_stationary_angles_of_extreme_kernels_alternate_each_once(lambd: float,
                                                                   gamma: float) -> None:
    # a carrier far below two pixels (hundreds of roots, some next to grid points), and a
    # line through pixel centres (a minimum flat to fourth order at the target): the
    # direct slope half way between neighbouring roots alternates in sign (a root found
    # twice, or a pair of roots missed, would break it)
    problem = Problem(make_image("pink", size=24, seed=5), 21,
                      REFERENCE.replace(theta=np.pi / 4, lambd=lambd, gamma=gamma), ("theta",),
                      Loss("mse"))
    engine = SpectralEngine(problem)
    found = engine.stationary_angles()
    gaps = np.diff(np.append(found, found[0] + engine.period))
    assert len(found) > 100
    assert np.min(gaps) > 1e-7
    halfway = direct_mse_slope(DirectEngine(problem), found + 0.5 * gaps)
    assert np.all(np.sign(halfway) * np.sign(np.roll(halfway, 1)) < 0)
    target = engine.center % engine.period
    assert np.count_nonzero(np.abs(found - target) < 1e-6) == 1
    assert target in found


def test_for_loss_reuses_the_series() -> None:
    engine = SpectralEngine(make_problem("mse", psi=0.3))
    rmse = engine.for_loss(Loss("rmse"))
    fresh = SpectralEngine(make_problem("rmse", psi=0.3))
    theta = angles(9)
    np.testing.assert_array_equal(rmse.loss_grad_curv(theta)[1], fresh.loss_grad_curv(theta)[1])
    assert rmse.n_modes == engine.n_modes
    assert rmse.problem.loss.name == "rmse"
    assert engine.problem.loss.name == "mse"  # the original is unchanged
    with pytest.raises(ValueError, match="MSE family"):
        engine.for_loss(Loss("l1"))


def test_a_flat_landscape_has_no_isolated_stationary_points() -> None:
    problem = Problem(np.zeros((20, 20)), 5, REFERENCE, ("theta",), Loss("mse"))
    engine = SpectralEngine(problem)
    assert len(engine.stationary_angles()) == 0
    np.testing.assert_array_equal(engine.loss(angles(5)), 0.0)


# -- a bounded property test over random small configurations ----------------------

@st.composite
def theta_problems(draw: st.DrawFn) -> Problem:
    target = GaborParams(theta=draw(st.floats(-3.2, 3.2)), lambd=draw(st.floats(2.5, 15)),
                         sigma=draw(st.floats(1.0, 6.0)), gamma=draw(st.floats(0.2, 1.5)),
                         psi=draw(st.sampled_from([0.0, draw(st.floats(-3.2, 3.2))])))
    image = make_image(draw(st.sampled_from(["pink", "white"])),
                       size=draw(st.integers(24, 48)), seed=draw(st.integers(0, 99)))
    return Problem(image, draw(st.sampled_from([3, 5, 7, 9, 11])), target, ("theta",),
                   Loss(draw(st.sampled_from(MSE_FAMILY))), op=draw(st.sampled_from(OPS)),
                   boundary=draw(st.sampled_from(BOUNDARIES)))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(theta_problems(), st.integers(0, 99))
def test_spectral_matches_direct_on_random_configurations(problem: Problem, seed: int) -> None:
    engine = SpectralEngine(problem)
    assert engine.tail_ratio < 1e-13
    assert_engines_agree(DirectEngine(problem), engine, angles(8, seed), rtol=1e-9)
    slope_scale = np.max(np.abs(engine.mse_derivatives(np.linspace(0, 7, 300))[1]))
    found = engine.stationary_angles()
    assert np.all(np.abs(engine.mse_derivatives(found)[1]) <= 1e-9 * slope_scale)
    # none missed: every sign change of the exact quadratic-form slope is found
    grid = np.linspace(0, engine.period, 401)
    slope = engine.quadratic.mse_derivatives(grid[:, None], order=1)[1][:, 0]
    changes = grid[:-1][np.sign(slope[:-1]) * np.sign(slope[1:]) < 0]
    if len(changes):
        assert np.all(circular_gap(changes, found, engine.period).min(axis=1)
                      <= engine.period / 400)
