"""Gabor kernel: references (OpenCV, scikit-image, the formula), derivatives, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabordiag.config.params import PARAM_NAMES, GaborParams
from gabordiag.core.kernel import (
    gabor_kernel,
    gabor_kernels,
    kernel_derivatives,
    period_label,
    theta_period,
)

PI = math.pi

# (ksize, sigma, theta, lambd, gamma, psi): psi != 0, every quadrant of theta,
# gamma on both sides of 1, a kernel wider than its envelope and a 1x1 kernel.
CASES = [
    (11, 2.5, 0.0, 6.0, 0.5, 0.0),
    (11, 2.5, 0.7, 6.0, 0.6, 0.9),
    (15, 3.0, PI / 4, 10.0, 0.5, 0.0),
    (21, 4.0, PI / 4, 10.0, 0.5, 0.0),
    (9, 2.0, PI / 2, 5.0, 1.0, PI / 2),
    (13, 3.5, 2.1, 7.5, 1.7, -1.2),
    (7, 1.5, -1.3, 3.0, 0.3, PI),
    (17, 2.0, 3.9, 4.0, 0.8, 2.5),
    (5, 1.0, -5.5, 2.5, 1.2, -2.8),
    (1, 1.0, 0.3, 4.0, 0.5, 0.4),
]

params_strategy = st.tuples(
    st.sampled_from([1, 3, 5, 7, 9, 11, 15, 21]),
    st.floats(0.8, 6.0),     # sigma
    st.floats(-7.0, 7.0),    # theta
    st.floats(2.0, 25.0),    # lambd
    st.floats(0.25, 2.0),    # gamma
    st.floats(-4.0, 4.0),    # psi
)
HYP = settings(max_examples=25, deadline=None)


def _kernel(case):
    k, sigma, theta, lambd, gamma, psi = case
    return gabor_kernel(k, sigma=sigma, theta=theta, lambd=lambd, gamma=gamma, psi=psi)


def _param_dict(case):
    _, sigma, theta, lambd, gamma, psi = case
    return {"theta": theta, "lambda": lambd, "sigma": sigma, "gamma": gamma, "psi": psi}


def _formula(x, y, sigma, theta, lambd, gamma, psi):
    """The DESIGN.md convention, written out for one point with the math module."""
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    return math.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * math.cos(
        2 * math.pi * xr / lambd + psi)


# -- references -------------------------------------------------------------------------

def _check_opencv(case):
    cv2 = pytest.importorskip("cv2")
    k, sigma, theta, lambd, gamma, psi = case
    ref = cv2.getGaborKernel((k, k), sigma, theta, lambd, gamma, -psi, ktype=cv2.CV_64F)
    np.testing.assert_allclose(_kernel(case), ref, rtol=0, atol=1e-12)


def _check_skimage(case):
    filters = pytest.importorskip("skimage.filters")
    k, sigma, theta, lambd, gamma, psi = case
    sigma_x, sigma_y = sigma, sigma / gamma
    c = k // 2
    # skimage's half-widths are >= n_stds * min(sigma_x, sigma_y) / sqrt(2): cover c.
    n_stds = math.sqrt(2) * (c + 1) / min(sigma_x, sigma_y) + 1
    full = filters.gabor_kernel(1 / lambd, theta, sigma_x=sigma_x, sigma_y=sigma_y,
                                offset=psi, n_stds=n_stds)
    rows, cols = full.shape
    assert rows % 2 == 1
    assert cols % 2 == 1
    assert min(rows, cols) >= k
    r0, c0 = rows // 2 - c, cols // 2 - c
    ref = full.real[r0:r0 + k, c0:c0 + k] * (2 * PI * sigma**2 / gamma)
    np.testing.assert_allclose(_kernel(case), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_matches_opencv(case):
    _check_opencv(case)


@pytest.mark.parametrize("case", CASES)
def test_matches_skimage(case):
    _check_skimage(case)


@HYP
@given(params_strategy)
def test_matches_opencv_property(case):
    _check_opencv(case)


@HYP
@given(params_strategy)
def test_matches_skimage_property(case):
    _check_skimage(case)


@pytest.mark.parametrize("case", CASES)
def test_matches_formula_at_every_pixel(case):
    k, sigma, theta, lambd, gamma, psi = case
    c = k // 2
    ref = np.array([[_formula(col - c, row - c, sigma, theta, lambd, gamma, psi)
                     for col in range(k)] for row in range(k)])
    np.testing.assert_allclose(_kernel(case), ref, rtol=0, atol=1e-13)


def test_dtype_and_centre():
    kern = gabor_kernel(9, sigma=2.0, theta=0.4, lambd=5.0, gamma=0.5, psi=0.3)
    assert kern.dtype == np.float64
    assert kern.shape == (9, 9)
    assert kern[4, 4] == pytest.approx(math.cos(0.3), abs=1e-15)


# -- layout: K[row, col] = g(x=col - c, y=row - c), y pointing down -------------------------

def test_layout_theta0_carrier_along_columns():
    k, sigma, lambd, gamma = 11, 2.0, 5.0, 0.5
    c = k // 2
    kern = gabor_kernel(k, sigma=sigma, theta=0.0, lambd=lambd, gamma=gamma, psi=0.0)
    x = np.arange(k) - c
    # centre row: y = 0, x = col - c -> carrier varies along the columns
    np.testing.assert_allclose(
        kern[c, :], np.exp(-x**2 / (2 * sigma**2)) * np.cos(2 * PI * x / lambd), atol=1e-15)
    # centre column: x = 0 -> carrier is cos(0) = 1, only the envelope along y' = y
    np.testing.assert_allclose(
        kern[:, c], np.exp(-gamma**2 * x**2 / (2 * sigma**2)), atol=1e-15)


def test_layout_pixels_asymmetric_case():
    k, sigma, theta, lambd, gamma, psi = 9, 2.5, PI / 6, 6.0, 0.7, 0.4
    c = k // 2
    kern = gabor_kernel(k, sigma=sigma, theta=theta, lambd=lambd, gamma=gamma, psi=psi)
    for row, col in [(c + 2, c - 1), (c - 3, c + 1), (0, k - 1), (c, c + 4)]:
        expected = _formula(col - c, row - c, sigma, theta, lambd, gamma, psi)
        assert kern[row, col] == pytest.approx(expected, abs=1e-14)
    # a transposed layout would put g(x=-1, y=2) at [c - 1, c + 2]: make sure it differs
    assert abs(kern[c + 2, c - 1] - kern[c - 1, c + 2]) > 1e-2


def test_layout_y_points_down():
    # theta = pi/2: x' = y, so with psi = pi/2 the pixel one row *below* the centre
    # (y = +1) holds cos(2 pi / lambda + pi/2) = -sin(2 pi / lambda) < 0.
    lambd = 6.0
    kern = gabor_kernel(5, sigma=2.0, theta=PI / 2, lambd=lambd, gamma=1.0, psi=PI / 2)
    env = math.exp(-1 / (2 * 2.0**2))
    assert kern[3, 2] == pytest.approx(-env * math.sin(2 * PI / lambd), abs=1e-14)
    assert kern[1, 2] == pytest.approx(env * math.sin(2 * PI / lambd), abs=1e-14)
    assert kern[3, 2] < 0 < kern[1, 2]


# -- derivatives ------------------------------------------------------------------------

FD_H = 1e-5


def _shifted(case, name, delta):
    p = _param_dict(case)
    p[name] = p[name] + delta
    return p


def _kernel_of(case, params):
    return gabor_kernels(case[0], theta=params["theta"], lambd=params["lambda"],
                         sigma=params["sigma"], gamma=params["gamma"], psi=params["psi"])


def _assert_close_to_fd(analytic, fd, rel=1e-6, floor=1e-8):
    """Max error within ``rel`` of the largest entry, plus an absolute floor for the
    h^2 truncation where the derivative itself vanishes (kernel values are <= 1)."""
    scale = max(float(np.abs(analytic).max()), float(np.abs(fd).max()), 1e-3)
    err = float(np.abs(analytic - fd).max())
    assert err <= rel * scale + floor, f"max error {err:.3e} vs scale {scale:.3e}"


def _check_first_derivatives(case):
    kern, d = kernel_derivatives(case[0], _param_dict(case), PARAM_NAMES)
    np.testing.assert_array_equal(kern, _kernel(case))
    assert set(d) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        plus = _kernel_of(case, _shifted(case, name, FD_H))
        minus = _kernel_of(case, _shifted(case, name, -FD_H))
        assert d[name].shape == kern.shape
        _assert_close_to_fd(d[name], (plus - minus) / (2 * FD_H))


def _check_second_derivatives(case):
    kern, d2 = kernel_derivatives(case[0], _param_dict(case), PARAM_NAMES, order=2)
    for name in PARAM_NAMES:
        # central difference of the analytic first derivative ...
        _, d_plus = kernel_derivatives(case[0], _shifted(case, name, FD_H), [name])
        _, d_minus = kernel_derivatives(case[0], _shifted(case, name, -FD_H), [name])
        # round-off of the difference quotient grows with the size of dK itself
        roundoff = 10 * np.finfo(float).eps * float(np.abs(d_plus[name]).max()) / FD_H
        _assert_close_to_fd(d2[name], (d_plus[name] - d_minus[name]) / (2 * FD_H),
                            floor=1e-8 + roundoff)
        # ... and the second difference of the kernel itself: coarser step, looser bound,
        # round-off ~ 4 eps max|K| / h^2 ~ 1e-7 (|K| <= 1)
        h = 1e-4
        plus = _kernel_of(case, _shifted(case, name, h))
        minus = _kernel_of(case, _shifted(case, name, -h))
        _assert_close_to_fd(d2[name], (plus - 2 * kern + minus) / h**2, rel=1e-5,
                            floor=2e-7)


@pytest.mark.parametrize("case", CASES)
def test_first_derivatives_vs_finite_differences(case):
    _check_first_derivatives(case)


@pytest.mark.parametrize("case", CASES)
def test_second_derivatives_vs_finite_differences(case):
    _check_second_derivatives(case)


@HYP
@given(params_strategy)
def test_derivatives_vs_finite_differences_property(case):
    _check_first_derivatives(case)
    _check_second_derivatives(case)


def test_theta_derivative_is_rotation_generator():
    # dg/dtheta = y' dg/dx' - x' dg/dy', with the rotated-frame partials written out
    case = (11, 2.5, 0.7, 6.0, 0.6, 0.9)
    k, sigma, theta, lambd, gamma, psi = case
    c = k // 2
    y, x = np.mgrid[0:k, 0:k].astype(float) - c
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    env = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    phase = 2 * PI * xr / lambd + psi
    g_x = env * (-xr / sigma**2 * np.cos(phase) - 2 * PI / lambd * np.sin(phase))
    g_y = env * np.cos(phase) * (-(gamma**2) * yr / sigma**2)
    _, d = kernel_derivatives(k, _param_dict(case), ["theta"])
    np.testing.assert_allclose(d["theta"], yr * g_x - xr * g_y, rtol=0, atol=1e-13)


def test_derivative_subset_and_broadcast():
    thetas = np.array([0.1, 0.9, 2.0])
    p = {"theta": thetas, "lambda": 6.0, "sigma": 2.0, "gamma": 0.5, "psi": 0.3}
    kern, d = kernel_derivatives(7, p, ["theta", "psi"])
    assert kern.shape == (3, 7, 7)
    assert set(d) == {"theta", "psi"}
    for i, theta in enumerate(thetas):
        single = dict(p, theta=float(theta))
        k1, d1 = kernel_derivatives(7, single, ["theta", "psi"])
        np.testing.assert_allclose(kern[i], k1, atol=1e-15)
        np.testing.assert_allclose(d["theta"][i], d1["theta"], atol=1e-15)
        np.testing.assert_allclose(d["psi"][i], d1["psi"], atol=1e-15)


def test_derivative_argument_errors():
    p = {"theta": 0.1, "lambda": 6.0, "sigma": 2.0, "gamma": 0.5, "psi": 0.3}
    with pytest.raises(ValueError, match="order"):
        kernel_derivatives(7, p, ["theta"], order=3)
    with pytest.raises(ValueError, match="unknown"):
        kernel_derivatives(7, p, ["omega"])


# -- periodicity and symmetry -------------------------------------------------------------

@pytest.mark.parametrize("psi", [0.0, PI, -PI, 2 * PI])
def test_theta_period_pi(psi):
    assert theta_period(psi) == pytest.approx(PI, abs=0)


@pytest.mark.parametrize("psi", [0.5, PI / 2, -PI / 2, -1.0, 2.5, PI - 0.01, 1e-6])
def test_theta_period_two_pi(psi):
    assert theta_period(psi) == pytest.approx(2 * PI, abs=0)


def _rotated_pair(theta, psi, shift, k=15, sigma=3.0, lambd=7.0, gamma=0.6):
    a = gabor_kernel(k, sigma=sigma, theta=theta, lambd=lambd, gamma=gamma, psi=psi)
    b = gabor_kernel(k, sigma=sigma, theta=theta + shift, lambd=lambd, gamma=gamma, psi=psi)
    return a, b


@pytest.mark.parametrize("psi", [0.0, PI, -PI])
@pytest.mark.parametrize("theta", [0.0, 0.4, PI / 4, -2.2])
def test_pi_rotation_invariant_when_sin_psi_zero(theta, psi):
    a, b = _rotated_pair(theta, psi, PI)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


@pytest.mark.parametrize("psi", [0.5, PI / 2, -1.0, 2.5, PI - 0.1])
@pytest.mark.parametrize("theta", [0.0, 0.4, PI / 4, -2.2])
def test_pi_rotation_changes_kernel_when_sin_psi_nonzero(theta, psi):
    a, b = _rotated_pair(theta, psi, PI)
    # g(theta + pi) - g(theta) = 2 env sin(2 pi x' / lambda) sin(psi): clearly nonzero
    assert float(np.abs(b - a).max()) > 0.1 * abs(math.sin(psi))


@HYP
@given(st.floats(-7.0, 7.0), st.floats(-4.0, 4.0))
def test_two_pi_rotation_invariant(theta, psi):
    a, b = _rotated_pair(theta, psi, 2 * PI)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


@HYP
@given(st.floats(-7.0, 7.0), st.floats(-4.0, 4.0))
def test_pi_periodicity_agrees_with_theta_period(theta, psi):
    a, b = _rotated_pair(theta, psi, PI)
    diff = float(np.abs(b - a).max())
    if theta_period(psi) == pytest.approx(PI):
        assert diff < 1e-10
    else:
        assert abs(math.sin(psi)) >= 1e-12
        assert diff > 0.1 * abs(math.sin(psi))


@pytest.mark.parametrize("theta", [0.0, 0.3, PI / 4, 2.0, -1.1])
def test_psi_zero_kernel_is_even(theta):
    kern = gabor_kernel(13, sigma=3.0, theta=theta, lambd=6.0, gamma=0.5, psi=0.0)
    np.testing.assert_allclose(kern, kern[::-1, ::-1], rtol=0, atol=1e-15)


@pytest.mark.parametrize("theta", [0.0, 0.3, PI / 4, 2.0, -1.1])
def test_psi_half_pi_kernel_is_odd(theta):
    kern = gabor_kernel(13, sigma=3.0, theta=theta, lambd=6.0, gamma=0.5, psi=PI / 2)
    np.testing.assert_allclose(kern, -kern[::-1, ::-1], rtol=0, atol=1e-14)
    assert abs(kern[6, 6]) < 1e-15
    assert float(np.abs(kern).max()) > 0.1


# -- broadcasting and argument checks -------------------------------------------------------

def test_gabor_kernels_broadcasts():
    thetas = np.array([0.0, 0.5, 1.7])[:, None]
    lambdas = np.array([4.0, 6.0, 9.0, 12.0])
    out = gabor_kernels(9, theta=thetas, lambd=lambdas, sigma=2.5, gamma=0.7, psi=0.2)
    assert out.shape == (3, 4, 9, 9)
    for i in range(3):
        for j in range(4):
            ref = gabor_kernel(9, sigma=2.5, theta=float(thetas[i, 0]),
                               lambd=float(lambdas[j]), gamma=0.7, psi=0.2)
            np.testing.assert_array_equal(out[i, j], ref)


def test_gabor_kernels_broadcasts_every_parameter():
    rng = np.random.default_rng(1)
    shape = (2, 3)
    p = {"theta": rng.uniform(-3, 3, shape), "lambd": rng.uniform(3, 10, shape),
         "sigma": rng.uniform(1, 4, shape), "gamma": rng.uniform(0.3, 1.5, shape),
         "psi": rng.uniform(-3, 3, shape)}
    out = gabor_kernels(7, **p)
    assert out.shape == (*shape, 7, 7)
    for idx in np.ndindex(*shape):
        ref = gabor_kernel(7, **{name: float(v[idx]) for name, v in p.items()})
        np.testing.assert_array_equal(out[idx], ref)


@pytest.mark.parametrize("ksize", [0, -1, -3, 2, 4, 20])
def test_bad_ksize_raises(ksize):
    with pytest.raises(ValueError, match="ksize"):
        gabor_kernel(ksize, sigma=2.0, theta=0.0, lambd=5.0)
    with pytest.raises(ValueError, match="ksize"):
        gabor_kernels(ksize, theta=0.0, lambd=5.0, sigma=2.0, gamma=1.0, psi=0.0)
    with pytest.raises(ValueError, match="ksize"):
        kernel_derivatives(ksize, {"theta": 0.0, "lambda": 5.0, "sigma": 2.0,
                                   "gamma": 1.0, "psi": 0.0})


def test_gabor_params_roundtrip():
    p = GaborParams(theta=0.1, lambd=6.0, sigma=2.0, gamma=0.5, psi=0.3)
    assert p.as_dict() == {"theta": 0.1, "lambda": 6.0, "sigma": 2.0, "gamma": 0.5,
                           "psi": 0.3}
    assert GaborParams.from_dict(p.as_dict()) == p
    assert p.replace(lambd=7.0).lambd == 7.0
    assert p.replace(**{"lambda": 8.0}, theta=1.0) == GaborParams(1.0, 8.0, 2.0, 0.5, 0.3)


def test_period_label_is_the_one_name_of_a_period():
    assert period_label(theta_period(0.0)) == "pi"
    assert period_label(theta_period(PI)) == "pi"
    assert period_label(theta_period(0.3)) == "2pi"
    assert period_label(None) is None
    assert period_label(1.0) is None


# -- a carrier finer than the pixel grid (lambda < 2) ---------------------------------------

@pytest.mark.parametrize(("lambd", "theta"), [(1.5, 0.0), (1.5, math.radians(30)),
                                              (1.2, math.radians(45)), (1.9, -0.2)])
def test_an_aliased_carrier_samples_as_a_longer_wave(lambd, theta):
    """With a round envelope (gamma 1), a kernel whose carrier has a component beyond half
    a cycle per pixel equals, sample for sample, the kernel of the aliased wave: the
    frequency (cos, sin) / lambda less a whole cycle per pixel in x, which is longer."""
    fx, fy = math.cos(theta) / lambd, math.sin(theta) / lambd
    assert fx > 0.5  # the x component aliases
    ax = fx - 1.0
    alias_lambda, alias_theta = 1 / math.hypot(ax, fy), math.atan2(fy, ax)
    assert alias_lambda > lambd
    for psi in (0.0, 0.7):
        given_ = gabor_kernel(15, sigma=3.0, theta=theta, lambd=lambd, gamma=1.0, psi=psi)
        alias = gabor_kernel(15, sigma=3.0, theta=alias_theta, lambd=alias_lambda, gamma=1.0,
                             psi=psi)
        np.testing.assert_allclose(given_, alias, rtol=0, atol=1e-12)


@pytest.mark.parametrize("lambd", [1.45, 1.5, 1.8, 1.99, 1.99999])
def test_the_wavelength_warning_names_the_orientations_that_alias(lambd):
    """Between sqrt 2 and 2 pixels the warning's angle from the axes is where the larger
    component of (cos, sin) / lambda passes half a cycle per pixel."""
    from gabordiag.config.values import wavelength_warning

    text = wavelength_warning(lambd)
    assert text is not None
    degrees = float(text.split("within ")[1].split(" deg")[0])
    margin = 0.01 * degrees  # the angle is given to 3 significant digits
    inside, outside = math.radians(degrees - margin), math.radians(degrees + margin)
    assert max(abs(math.cos(inside)), abs(math.sin(inside))) / lambd > 0.5
    assert max(abs(math.cos(outside)), abs(math.sin(outside))) / lambd < 0.5


def test_the_wavelength_warning_is_for_short_wavelengths_only():
    from gabordiag.config.values import wavelength_warning

    assert "at every orientation" in str(wavelength_warning(1.4))
    assert "within 45" in str(wavelength_warning(1.4143))  # sqrt 2 = 1.41421...
    assert all(wavelength_warning(lam) is None for lam in (2.0, 2.5, 10.0, math.inf))
