"""The parts of ``gabordiag layer`` that need no torch (they run without it): the Gabor
fit behind it recovers OpenCV's kernels, an amplitude, a shifted centre, a transposed
kernel, and says when a kernel is not a Gabor kernel; without torch the command says in
one line how to install it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error, gabor, invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from gabordiag.analysis.layer.fit import FIT_RTOL, fit_gabor, gabor_model


def _same_angle(a: float, b: float, period: float) -> bool:
    d = (a - b) % period
    return min(d, period - d) < 1e-7


def _assert_recovers(fit, theta: float, lambd: float, sigma: float, gamma: float,
                     psi: float) -> None:
    """The fit equals the parameters, up to the one symmetry (theta + pi, -psi)."""
    assert fit.lambd == pytest.approx(lambd, rel=1e-8)
    assert fit.sigma == pytest.approx(sigma, rel=1e-8)
    assert fit.gamma == pytest.approx(gamma, rel=1e-8)
    direct = _same_angle(fit.theta, theta, 2 * math.pi) and _same_angle(fit.psi, psi,
                                                                        2 * math.pi)
    flipped = _same_angle(fit.theta, theta + math.pi, 2 * math.pi) and _same_angle(
        fit.psi, -psi, 2 * math.pi)
    assert direct or flipped, (fit, theta, psi)
    assert 0 <= fit.theta < math.pi


CASES = [(math.pi / 4, 10.0, 4.0, 0.5, 0.0), (-math.pi / 4, 10.0, 4.0, 0.5, 0.0),
         (2.0, 6.0, 3.0, 0.8, 1.0), (0.3, 4.0, 2.0, 0.5, -2.0), (1.2, 30.0, 4.0, 0.3, 0.5)]


@pytest.mark.parametrize(("theta", "lambd", "sigma", "gamma", "psi"), CASES)
def test_fit_recovers_opencv_kernels(theta: float, lambd: float, sigma: float, gamma: float,
                                     psi: float) -> None:
    cv2 = pytest.importorskip("cv2")
    kernel = cv2.getGaborKernel((21, 21), sigma, theta, lambd, gamma, -psi,
                                ktype=cv2.CV_64F)
    fit = fit_gabor(kernel)
    assert fit.residual < 1e-9
    assert fit.is_gabor
    _assert_recovers(fit, theta, lambd, sigma, gamma, psi)
    assert fit.amplitude == pytest.approx(1.0, rel=1e-9)
    assert abs(fit.dx) < 1e-8
    assert abs(fit.dy) < 1e-8


def test_model_is_the_reference_kernel() -> None:
    expected = gabor(15, 0.4, 3.0, 6.0, 0.6, 0.7)
    assert np.allclose(gabor_model((15, 15), 0.4, 6.0, 3.0, 0.6, 0.7), expected,
                       rtol=0, atol=1e-14)


def test_fit_finds_amplitude_and_shifted_centre() -> None:
    """A kernel built on a grid off by (dy, dx) = (-1, 1) pixel, scaled by 0.3."""
    k, c = 21, 10
    y, x = np.mgrid[0:k, 0:k].astype(float) - c
    x, y = x - 1.0, y + 1.0
    theta, lambd, sigma, gamma = 0.5, 9.0, 3.5, 0.6
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    kernel = 0.3 * np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * np.cos(
        2 * np.pi * xr / lambd)
    fit = fit_gabor(kernel)
    assert fit.is_gabor
    assert (fit.dx, fit.dy) == (pytest.approx(1.0, abs=1e-8), pytest.approx(-1.0, abs=1e-8))
    assert fit.amplitude == pytest.approx(0.3, rel=1e-9)
    _assert_recovers(fit, theta, lambd, sigma, gamma, 0.0)


def test_transposed_kernel_is_measured_from_the_other_axis() -> None:
    theta = 0.3
    fit = fit_gabor(gabor(21, theta, 4.0, 10.0, 0.5).T)
    assert _same_angle(fit.theta, math.pi / 2 - theta, math.pi)
    assert fit.period == math.pi


def test_fit_refuses_what_is_not_a_gabor_kernel() -> None:
    rng = np.random.default_rng(0)
    fit = fit_gabor(rng.standard_normal((15, 15)))
    assert not fit.is_gabor
    assert fit.residual > 1e-2
    empty = fit_gabor(np.zeros((9, 9)))
    assert not empty.is_gabor


@settings(max_examples=6, deadline=None)
@given(theta=st.floats(0, math.pi), lambd=st.floats(4, 15), sigma=st.floats(2, 5),
       gamma=st.floats(0.3, 1.0), psi=st.floats(-3.1, 3.1))
def test_fit_reconstructs_any_kernel(theta: float, lambd: float, sigma: float, gamma: float,
                                     psi: float) -> None:
    kernel = gabor(21, theta, sigma, lambd, gamma, psi)
    fit = fit_gabor(kernel)
    model = gabor_model(kernel.shape, fit.theta, fit.lambd, fit.sigma, fit.gamma, fit.psi,
                        fit.amplitude, fit.dx, fit.dy)
    assert np.linalg.norm(model - kernel) <= FIT_RTOL * np.linalg.norm(kernel)


def test_warm_start_gives_the_cold_fit() -> None:
    near = fit_gabor(gabor(21, 0.70, 4.0, 10.0, 0.5))
    cold = fit_gabor(gabor(21, 0.71, 4.0, 10.0, 0.5))
    warm = fit_gabor(gabor(21, 0.71, 4.0, 10.0, 0.5), start=near)
    assert np.allclose(warm.vector(), cold.vector(), rtol=1e-9, atol=1e-9)


def test_without_torch_the_command_says_how_to_install(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    spec = f"{Path(__file__).parent / 'layers' / 'correct.py'}:make"
    message = assert_usage_error(invoke("layer", spec), "PyTorch")
    assert 'pip install "gabordiag[torch]"' in message
