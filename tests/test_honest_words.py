"""Sentences that hold for the run they describe (issue 16): angle warnings, gradcheck's
stated definitions, user kernels compared with ours, the stable-lr ratio, a minimum in
every learned parameter."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import gabor, invoke

from gabordiag.analysis.gradcheck import DEFINITIONS, run_gradcheck
from gabordiag.analysis.recover import recover
from gabordiag.analysis.study import Study
from gabordiag.config import resolve_config

SMALL = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5"]


# -- angles ------------------------------------------------------------------------------

def assert_warned_once(r: Any, start: str | None) -> None:
    """One warning line on stderr beginning with ``start``, the same in the JSON
    ``warnings`` (``start`` None: no warning at all)."""
    data = r.json()
    if start is None:
        assert r.err == ""
        assert data["warnings"] == []
        return
    assert r.err.startswith(f"gabordiag: warning: {start}")
    assert r.err.count("\n") == 1
    assert data["warnings"] == [r.err[len("gabordiag: warning: "):].strip()]


@pytest.mark.parametrize(("value", "warned"), [("45", True), ("-7", True), ("6.2", False),
                                               ("45deg", False), ("3*pi", False)])
def test_a_bare_angle_beyond_a_full_turn_is_warned_about(value: str, warned: bool) -> None:
    r = invoke("recover", *SMALL, "--steps", "5", "--theta0", value, "--json")
    assert r.code == 0
    data = r.json()
    assert_warned_once(r, "--theta0:" if warned else None)
    if warned:
        assert f"write {value}deg" in r.err
        assert data["config"]["theta0"] == float(value)  # accepted as given, in rad


def test_a_config_file_angle_is_warned_about_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("theta0 = 30\n")
    _, source = resolve_config(config_path=path)
    assert len(source.warnings) == 1
    assert source.warnings[0].startswith(f"{path}: key 'theta0': 30 is read as 30 rad")


@pytest.mark.parametrize(("option", "value", "warned"),
                         [("--lambda", "1.5", True), ("--lambda0", "1.2", True),
                          ("--lambda", "2", False), ("--lambda0", "5", False)])
def test_a_wavelength_below_two_pixels_is_warned_about(option: str, value: str,
                                                       warned: bool) -> None:
    learn = ["--learn", "lambda"] if option == "--lambda0" else []
    r = invoke("kernel", "--ksize", "9", *learn, option, value, "--json")
    assert r.code == 0
    assert_warned_once(r, f"{option}: {value} pixels is below 2" if warned else None)


def test_a_config_file_wavelength_is_warned_about_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("lambda = 1.5\n")
    _, source = resolve_config(config_path=path)
    assert [w.split(":")[:2] for w in source.warnings] == [[str(path), " key 'lambda'"]]
    # what the run uses is warned about: not a value an option replaced, nor a start
    # that is not used (lambda is not learned)
    path.write_text("lambda = 1.5\nlambda0 = 1.2\n")
    assert resolve_config({"lambda": "8"}, config_path=path)[1].warnings == ()
    assert [w.split(":")[:2] for w in resolve_config(
        {"lambda": "8", "learn": "lambda"}, config_path=path)[1].warnings] == [
        [str(path), " key 'lambda0'"]]


# -- gradcheck says what its numbers are, and never cuts a list silently ------------------

USER = '''
import numpy as np

def _g(ksize, sigma, theta, lambd, gamma, psi):
    c = ksize // 2
    y, x = np.mgrid[0:ksize, 0:ksize].astype(float) - c
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    envelope = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    return envelope * np.cos(2 * np.pi * xr / lambd + psi)

def flipped(ksize, *, sigma, theta, lambd, gamma, psi):
    return _g(ksize, sigma, -theta, lambd, gamma, psi) / (2 * np.pi * sigma**2)

def degrees(ksize, *, sigma, theta, lambd, gamma, psi):
    return _g(ksize, sigma, np.radians(theta), lambd, gamma, psi)

def same(ksize, *, sigma, theta, lambd, gamma, psi):
    return _g(ksize, sigma, theta, lambd, gamma, psi)

def odd(ksize, *, sigma, theta, lambd, gamma, psi):
    return _g(ksize, sigma, theta, lambd, gamma, psi) + 0.01 * theta

def transposed_derivative(ksize, *, sigma, theta, lambd, gamma, psi, param):
    h = 1e-6
    args = dict(sigma=sigma, theta=theta, lambd=lambd, gamma=gamma, psi=psi)
    key = "lambd" if param == "lambda" else param
    plus, minus = dict(args), dict(args)
    plus[key] += h
    minus[key] -= h
    d = (same(ksize, **plus) - same(ksize, **minus)) / (2 * h)
    return d.T if param == "theta" else d
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(USER)
    monkeypatch.chdir(tmp_path)
    return path


def study_with(**values: str) -> Study:
    base = {"size": "40", "ksize": "11", "sigma": "3", "lambda": "6", "loss": "mse"}
    return Study(resolve_config({**base, **values})[0])


def test_gradcheck_states_its_definitions_and_computes_them(user_module: Path) -> None:
    study = study_with(derivative="mine.py:transposed_derivative", theta0="0.3")
    result = run_gradcheck(study, n_random=5, seed=1)
    theta = next(c for c in result.checks if c.what == "kernel" and c.param == "theta")
    assert not theta.passed
    # the stated definition, recomputed: largest over the points of the L2 ratio
    ratios = []
    for p in result.points:
        k = study.config.ksize
        h = 1e-6
        true = (gabor(k, p["theta"] + h, p["sigma"], p["lambda"], p["gamma"], p["psi"])
                - gabor(k, p["theta"] - h, p["sigma"], p["lambda"], p["gamma"], p["psi"])) / (2 * h)
        ratios.append(np.linalg.norm(true.T - true) / np.linalg.norm(true))
    assert theta.max_rel_error == pytest.approx(max(ratios), rel=1e-3)
    data = result.to_dict()
    assert data["definitions"] == DEFINITIONS
    assert "L2 norms over the kernel's pixels" in DEFINITIONS["max_rel_error (kernel)"]
    r = invoke("gradcheck", "--size", "40", "--ksize", "11", "--sigma", "3", "--lambda", "6",
               "--loss", "mse", "--theta0", "0.3", "--random", "12",
               "--derivative", "mine.py:transposed_derivative")
    assert r.code == 1
    flat = " ".join(r.out.split())
    assert "max rel error: kernel, the largest over the points of" in flat
    failing = re.search(r"d kernel / d theta: fails at (\d+) of (\d+) points, theta = ([^;]*)",
                        flat)
    assert failing, flat
    count, total = int(failing[1]), int(failing[2])
    assert total == 14
    shown = failing[3].split(" and ")[0].split(", ")
    assert len(shown) == min(count, 6)
    if count > 6:
        assert f"and {count - 6} more" in failing[3]


@pytest.mark.parametrize(("function", "words"), [
    ("flipped", "theta has the opposite sign"),
    ("flipped", "1 / (2 pi sigma^2)"),
    ("degrees", "theta is taken in degrees"),
])
def test_a_user_kernel_is_compared_with_ours(user_module: Path, function: str,
                                            words: str) -> None:
    result = run_gradcheck(study_with(kernel=f"mine.py:{function}"), n_random=3, seed=2)
    comparison = result.kernel_comparison
    assert comparison is not None
    assert not comparison.agrees
    assert words in comparison.summary()
    assert result.to_dict()["kernel_comparison"]["summary"] == comparison.summary()


def test_a_user_kernel_equal_to_ours_is_said_to_agree(user_module: Path) -> None:
    comparison = run_gradcheck(study_with(kernel="mine.py:same"), n_random=3,
                               seed=2).kernel_comparison
    assert comparison is not None
    assert comparison.agrees
    assert comparison.max_rel_difference < 1e-12
    assert "equals the built-in Gabor kernel" in comparison.summary()


def test_an_unexplained_difference_is_not_given_a_name(user_module: Path) -> None:
    comparison = run_gradcheck(study_with(kernel="mine.py:odd"), n_random=3,
                               seed=2).kernel_comparison
    assert comparison is not None
    assert not comparison.agrees
    assert comparison.explanations == []
    assert "no simple transformation" in comparison.summary()


@pytest.mark.parametrize(("function", "psi", "period"), [
    ("same", "0", math.pi), ("same", "0.5", 2 * math.pi), ("flipped", "0", math.pi),
    ("odd", "0", 2 * math.pi)])
def test_a_user_kernels_period_is_measured(user_module: Path, function: str, psi: str,
                                          period: float) -> None:
    study = study_with(kernel=f"mine.py:{function}", psi=psi)
    assert study.period == pytest.approx(period)
    # independently: the kernel itself repeats after a half turn, or not
    k = 11
    half = [np.allclose(gabor(k, t, 3, 6, 0.5, float(psi)),
                        gabor(k, t + math.pi, 3, 6, 0.5, float(psi)), atol=1e-12)
            for t in (0.1, 0.7, 1.9)]
    if function != "odd":
        assert all(half) == (period == math.pi)
    reason = study.problem().period_of("theta")[1]
    assert reason.startswith("measured on samples of your kernel")


# -- the stable-lr ratio as measured, to 3 digits -----------------------------------------

def test_the_configured_lr_ratio_is_printed_with_three_digits() -> None:
    base = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5", "--loss", "mse",
            "--points", "64"]
    data = invoke("landscape", *base, "--json").json()
    bound = data["max_stable_lr"]["sgd_configured"]
    lr = 1.03 * bound
    r = invoke("landscape", *base, "--lr", repr(lr))
    flat = " ".join(r.out.replace("│", " ").split())
    assert "= 1.03 x the bound: unstable" in flat
    below = invoke("landscape", *base, "--lr", repr(0.97 * bound))
    assert "= 0.97 x the bound: stable" in " ".join(below.out.replace("│", " ").split())


@pytest.mark.parametrize(("factor", "shown", "word"), [(1.002, "1.002", "unstable"),
                                                       (0.9996, "0.9996", "stable")])
def test_a_ratio_next_to_one_is_never_shown_as_one(factor: float, shown: str,
                                                   word: str) -> None:
    base = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5", "--loss", "mse",
            "--points", "64"]
    bound = invoke("landscape", *base, "--json").json()["max_stable_lr"]["sgd_configured"]
    r = invoke("landscape", *base, "--lr", repr(factor * bound))
    assert f"= {shown} x the bound: {word}" in " ".join(r.out.replace("│", " ").split())


# -- a minimum in several parameters is one in all of them --------------------------------

def test_a_cycle_in_theta_and_lambda_is_placed_at_a_minimum_of_both() -> None:
    cfg, _ = resolve_config({"image": "pink", "seed": "7", "size": "100",
                             "learn": "theta,lambda", "theta0": "0.6", "lambda0": "12",
                             "loss": "rmse", "lr": "3e-3", "momentum": "0.9"})
    study = Study(cfg)
    result = recover(study)
    ev = result.verdict.evidence
    assert result.verdict.kind == "cycling"
    assert ev["minimum_found"] is True
    theta, lambd = ev["minimum_point"]
    # the target (theta pi/4, lambda 10) is the minimum in both parameters
    assert theta == pytest.approx(math.pi / 4, abs=1e-6)
    assert lambd == pytest.approx(10.0, abs=1e-6)
    assert ev["minimum_is_exact_target"] is True
    assert "(the target)" in result.verdict.message
    # independently: both partial derivatives of the MSE vanish there
    engine = study.engine(loss="mse")
    _, grad = engine.loss_and_grad(np.array([[theta, lambd]]))
    assert np.all(np.abs(grad) < 1e-6)
