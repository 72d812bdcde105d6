"""``gradcheck`` (issue 6), ``--kernel`` / ``--derivative`` and ``mismatch_explanations``.

The user code is a module written into ``tmp_path`` by the tests: DESIGN.md's kernel
and its derivatives written out with numpy (d g / d theta = y' dg/dx' - x' dg/dy'),
validated here against central differences of that same numpy kernel, plus
deliberately wrong variants of the theta derivative.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import ERROR_PREFIX, gabor, invoke

from gabordiag.analysis.gradcheck import SCHEMA
from gabordiag.analysis.mismatch import mismatch_explanations
from gabordiag.config.choices import PARAM_NAMES
from gabordiag.core.kernel import gabor_kernel
from gabordiag.core.user import UserKernel, fd_step, load_callable

SMALL = ["--size", "40", "--ksize", "11", "--sigma", "3", "--lambda", "6"]
LOSSES = ("mse", "rmse", "rmse-eps", "l1", "huber")

USER_CODE = '''
"""A user's Gabor kernel and derivatives (DESIGN.md), some of them deliberately wrong."""
import math

import numpy as np


def _parts(ksize, sigma, theta, lambd, gamma, psi, centre=None):
    c = ksize // 2 if centre is None else centre
    y, x = np.mgrid[0:ksize, 0:ksize].astype(float) - c
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    envelope = np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2))
    phase = 2 * np.pi * xr / lambd + psi
    return xr, yr, envelope, phase


def kernel(ksize, *, sigma, theta, lambd, gamma, psi):
    xr, yr, envelope, phase = _parts(ksize, sigma, theta, lambd, gamma, psi)
    return envelope * np.cos(phase)


def derivative(ksize, *, sigma, theta, lambd, gamma, psi, param, centre=None):
    xr, yr, envelope, phase = _parts(ksize, sigma, theta, lambd, gamma, psi, centre)
    g = envelope * np.cos(phase)
    if param == "theta":  # the rotation generator: y' dg/dx' - x' dg/dy'
        dg_dx = -xr / sigma**2 * g - envelope * np.sin(phase) * 2 * np.pi / lambd
        dg_dy = -gamma**2 * yr / sigma**2 * g
        return yr * dg_dx - xr * dg_dy
    if param == "lambda":
        return envelope * np.sin(phase) * 2 * np.pi * xr / lambd**2
    if param == "sigma":
        return g * (xr**2 + gamma**2 * yr**2) / sigma**3
    if param == "gamma":
        return -g * gamma * yr**2 / sigma**2
    if param == "psi":
        return -envelope * np.sin(phase)
    raise ValueError(param)


def _theta_only(change):
    def wrong(ksize, *, param, **kw):
        d = derivative(ksize, param=param, **kw)
        return change(d) if param == "theta" else d
    return wrong


sign_flip = _theta_only(lambda d: -d)
half = _theta_only(lambda d: 0.5 * d)
degrees = _theta_only(lambda d: d * math.pi / 180)
rolled = _theta_only(lambda d: np.roll(d, 1, axis=1))
transposed = _theta_only(lambda d: d.T)


def off_centre(ksize, *, param, **kw):
    return derivative(ksize, param=param, centre=ksize // 2 + 1 if param == "theta"
                      else None, **kw)


def kernel_single(ksize, **kw):
    """The kernel computed in single precision (returned as float64)."""
    return kernel(ksize, **kw).astype(np.float32).astype(np.float64)


def lambda_no_two_pi(ksize, *, param, **kw):
    d = derivative(ksize, param=param, **kw)
    return d / (2 * np.pi) if param == "lambda" else d


def wide(ksize, **kw):
    return np.zeros((ksize, ksize + 1))


def raises(ksize, **kw):
    raise ValueError("boom in user code")


def no_param(ksize, *, sigma, theta, lambd, gamma, psi):
    return np.zeros((ksize, ksize))


def text(ksize, **kw):
    return "not an array"
'''


@pytest.fixture
def user(tmp_path: Path) -> Path:
    path = tmp_path / "userkernel.py"
    path.write_text(USER_CODE, encoding="utf-8")
    return path


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("userkernel_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def gradcheck_json(capsys: pytest.CaptureFixture[str], *args: Any
                   ) -> tuple[int, dict[str, Any]]:
    code, out, err = invoke("gradcheck", *SMALL, *args, "--json")
    assert out.count("\n") == 1, (out[:300], err)
    assert err == ""
    return code, json.loads(out)


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_usage_error(code: int, out: str, err: str, *names: str) -> str:
    assert code == 2, (code, out[:300], err)
    assert out == ""
    assert err.startswith(ERROR_PREFIX), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)
    return err


# -- the reference helper is right (checked without the package) ---------------------------

def test_the_numpy_derivatives_match_central_differences(user: Path) -> None:
    module = load(user)
    point = {"sigma": 3.0, "theta": 0.4, "lambd": 6.0, "gamma": 0.6, "psi": 0.3}
    keys = {"theta": "theta", "lambda": "lambd", "sigma": "sigma", "gamma": "gamma",
            "psi": "psi"}
    for name, key in keys.items():
        h = 1e-6
        plus = module.kernel(11, **{**point, key: point[key] + h})
        minus = module.kernel(11, **{**point, key: point[key] - h})
        numeric = (plus - minus) / (2 * h)
        analytic = module.derivative(11, **point, param=name)
        np.testing.assert_allclose(analytic, numeric, atol=1e-7, err_msg=name)
    # and the kernel is ours, so --kernel with it must reproduce our results
    np.testing.assert_allclose(module.kernel(11, **point), gabor_kernel(11, **point),
                               atol=1e-13)


# -- our derivatives pass ---------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_our_derivatives_pass_for_every_loss(capsys: pytest.CaptureFixture[str],
                                             loss: str) -> None:
    code, data = gradcheck_json(capsys, "--loss", loss, "--random", "3")
    assert code == 0, [c for c in data["checks"] if not c["passed"]]
    assert data["schema"] == SCHEMA == "gabordiag.gradcheck/1"
    assert data["passed"] is True
    assert data["derivative_source"] == "analytic"
    kernel_params = [c["param"] for c in data["checks"] if c["what"] == "kernel"]
    assert sorted(kernel_params) == sorted(PARAM_NAMES)
    assert [c["param"] for c in data["checks"] if c["what"] == "loss"] == ["theta"]
    assert len(data["points"]) == 2 + 3
    for c in data["checks"]:
        assert c["max_abs_error"] <= data["atol"] + data["rtol"] * 100


def test_loss_derivative_of_every_learned_parameter(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    code, data = gradcheck_json(capsys, "--learn", "theta,sigma,psi", "--loss", "mse",
                                "--random", "2")
    assert code == 0
    assert sorted(c["param"] for c in data["checks"] if c["what"] == "loss") == [
        "psi", "sigma", "theta"]


def test_text_output_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke("gradcheck", *SMALL, "--random", "2")
    assert code == 0, err
    text = flat(out)
    for name in PARAM_NAMES:
        assert f"d kernel / d {name}" in text
    assert "d loss / d theta" in text
    assert "all derivatives agree" in text
    assert "FAIL" not in text


# -- a user's derivative: the right one passes, wrong ones are caught and named -------------

def test_the_correct_user_derivative_passes(capsys: pytest.CaptureFixture[str],
                                            user: Path) -> None:
    code, data = gradcheck_json(capsys, "--derivative", f"{user}:derivative",
                                "--psi", "0.3", "--gamma", "0.7")
    assert code == 0, [c for c in data["checks"] if not c["passed"]]
    assert data["derivative_source"] == "your --derivative"
    assert all(c["passed"] and c["diagnosis"] is None for c in data["checks"])


WRONG = [  # (function, words the diagnosis must contain)
    ("sign_flip", ("sign",)),
    ("half", ("factor", "1/2")),
    ("degrees", ("factor", "degrees")),
    ("off_centre", ("centre",)),
    ("rolled", ("centre",)),
    ("transposed", ("transposed",)),
]


@pytest.mark.parametrize(("function", "words"), WRONG, ids=[w[0] for w in WRONG])
def test_a_wrong_theta_derivative_is_caught_and_named(
        capsys: pytest.CaptureFixture[str], user: Path, function: str,
        words: tuple[str, ...]) -> None:
    spec = f"{user}:{function}"
    code, data = gradcheck_json(capsys, "--derivative", spec)
    assert code == 1
    assert data["passed"] is False
    failed = {(c["what"], c["param"]) for c in data["checks"] if not c["passed"]}
    assert failed == {("kernel", "theta"), ("loss", "theta")}
    check = next(c for c in data["checks"] if c["what"] == "kernel" and c["param"] == "theta")
    assert check["diagnosis"] is not None
    for word in words:
        assert word in check["diagnosis"], check["diagnosis"]
    assert check["failing_points"]
    assert check["worst_pixels"]

    code, out, err = invoke("gradcheck", *SMALL, "--derivative", spec)
    assert code == 1, err
    text = flat(out)
    assert "d kernel / d theta: fails at" in text
    assert "FAIL" in text
    assert "some derivatives disagree" in text
    for word in words:
        assert word in text


def test_a_wrong_lambda_derivative_names_lambda(capsys: pytest.CaptureFixture[str],
                                                user: Path) -> None:
    code, data = gradcheck_json(capsys, "--derivative", f"{user}:lambda_no_two_pi")
    assert code == 1
    failed = [c for c in data["checks"] if not c["passed"]]
    assert [(c["what"], c["param"]) for c in failed] == [("kernel", "lambda")]
    assert "factor" in failed[0]["diagnosis"]


def test_transposed_is_not_mistaken_for_a_sign_flip(capsys: pytest.CaptureFixture[str],
                                                    user: Path) -> None:
    """At theta = +-pi/4 (the reference start and target) the kernel is symmetric under
    transposition and a transposed theta derivative equals minus the right one; a point
    away from those angles tells them apart, and the diagnosis must use it."""
    code, data = gradcheck_json(capsys, "--derivative", f"{user}:transposed",
                                "--random", "1")
    assert code == 1
    check = next(c for c in data["checks"] if c["what"] == "kernel" and c["param"] == "theta")
    thetas = [p["theta"] for p in check["failing_points"]]
    assert any(abs(math.sin(2 * t)) < 0.99 for t in thetas), thetas  # a non-symmetric one
    assert "transposed" in (check["diagnosis"] or ""), check["diagnosis"]


# -- a central difference is a reference only where it settles ------------------------------
#
# The true derivative comes from the complex step (Im K(p + i h) / h with h = 1e-30, no
# subtraction, exact to rounding) of conftest's kernel; central differences of that same
# kernel show, independently of the package, where a step is resolved.

EXTREME = ["--size", "32", "--ksize", "11", "--lambda", "0.001"]


def kernel_at(ksize: int, point: dict[str, Any], single: bool = False) -> np.ndarray:
    k = gabor(ksize, point["theta"], point["sigma"], point["lambda"], point["gamma"],
              point["psi"])
    return k.astype(np.float32).astype(np.float64) if single else k


def complex_step(ksize: int, point: dict[str, float], name: str) -> np.ndarray:
    h = 1e-30
    return np.asarray(kernel_at(ksize, {**point, name: point[name] + 1j * h}).imag / h)


def central(ksize: int, point: dict[str, float], name: str, h: float,
            single: bool = False) -> np.ndarray:
    plus = kernel_at(ksize, {**point, name: point[name] + h}, single)
    minus = kernel_at(ksize, {**point, name: point[name] - h}, single)
    return np.asarray((plus - minus) / (2 * h))


def within(value: np.ndarray, reference: np.ndarray, data: dict[str, Any]) -> bool:
    """gradcheck's elementwise test, with the tolerances the run states."""
    return bool(np.all(np.abs(value - reference)
                       <= data["atol"] + data["rtol"] * np.abs(reference)))


def kernel_checks(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in data["checks"] if c["what"] == "kernel"]


def assert_passes_are_resolved(data: dict[str, Any], ksize: int) -> None:
    """At every point where a kernel derivative passed, the central difference at the
    step it reports agrees with the true derivative: the step was resolved."""
    for c in kernel_checks(data):
        assert len(c["steps"]) == len(c["point_results"]) == len(data["points"])
        for point, step, result in zip(data["points"], c["steps"], c["point_results"]):
            if result == "pass":
                truth = complex_step(ksize, point, c["param"])
                assert within(central(ksize, point, c["param"], step), truth, data), (
                    c["param"], point, step)


def test_the_fixed_step_is_unresolved_at_lambda_0_001() -> None:
    """The premise of the tests below: at lambda = 0.001 the central difference of step
    1e-6 for lambda is not the derivative, and the one of step 5e-7 disagrees with it."""
    point = {"theta": math.pi / 4, "lambda": 0.001, "sigma": 4.0, "gamma": 0.5, "psi": 0.0}
    tolerance = {"atol": 1e-5, "rtol": 1e-3}
    truth = complex_step(11, point, "lambda")
    coarse, fine = (central(11, point, "lambda", h) for h in (1e-6, 5e-7))
    assert not within(coarse, truth, tolerance)
    assert not within(coarse, fine, tolerance)
    assert np.linalg.norm(coarse - truth) > 0.5 * np.linalg.norm(truth)  # not even close


def test_extreme_lambda_correct_derivatives_are_not_failed() -> None:
    result = invoke("gradcheck", *EXTREME, "--random", "2", "--json")
    data = result.json()
    assert data["result"] in ("pass", "unresolved"), result.describe()
    assert result.code == (0 if data["result"] == "pass" else 3)
    assert data["passed"] is (data["result"] == "pass")
    assert not [c for c in data["checks"] if c["result"] == "fail" or c["failing_points"]]
    assert_passes_are_resolved(data, 11)
    # lambda was compared at steps far below the fixed 1e-6, and theta's passes hold too
    lam = next(c for c in kernel_checks(data) if c["param"] == "lambda")
    assert max(lam["steps"]) < 1e-6

    code, out, err = invoke("gradcheck", *EXTREME, "--random", "2")
    assert code == result.code, err
    text = flat(out)
    assert "FAIL" not in text
    assert "some derivatives disagree" not in text


@pytest.mark.slow  # a diagnose of an aliased carrier: ~10 s
def test_extreme_lambda_diagnose_does_not_blame_the_derivative() -> None:
    result = invoke("diagnose", *EXTREME, "--starts", "4", "--steps", "100", "--json")
    assert result.code == 0, result.describe()
    data = result.json()
    ids = [f["id"] for f in data["findings"]]
    assert "derivative-wrong" not in ids, ids
    assert data["gradcheck_result"] in ("pass", "unresolved")
    assert not data["answers"]["is the derivative wrong"].startswith("yes")
    assert ("derivative-ok" in ids) is (data["gradcheck_result"] == "pass")
    assert ("derivative-unchecked" in ids) is (data["gradcheck_result"] == "unresolved")


EXTREME_WRONG = [  # (function, the derivative it gets wrong, words the diagnosis contains)
    ("sign_flip", "theta", ("sign",)),
    ("lambda_no_two_pi", "lambda", ("factor", f"{1 / (2 * math.pi):.6g}")),
]


@pytest.mark.parametrize(("function", "param", "words"), EXTREME_WRONG,
                         ids=[w[0] for w in EXTREME_WRONG])
def test_extreme_lambda_a_wrong_derivative_still_fails(user: Path, function: str,
                                                       param: str,
                                                       words: tuple[str, ...]) -> None:
    result = invoke("gradcheck", *EXTREME, "--random", "2", "--json",
                    "--derivative", f"{user}:{function}")
    assert result.code == 1, result.describe()
    data = result.json()
    assert data["result"] == "fail"
    assert data["passed"] is False
    failed = {c["param"] for c in kernel_checks(data) if c["result"] == "fail"}
    assert failed == {param}
    check = next(c for c in kernel_checks(data) if c["param"] == param)
    for word in words:
        assert word in (check["diagnosis"] or ""), check["diagnosis"]
    assert_passes_are_resolved(data, 11)  # the right ones pass where they truly agree


def test_a_kernel_in_single_precision_is_unresolved_not_failed(user: Path) -> None:
    """Single-precision kernel values are too coarse for any step: the differences at h
    and h/2 never agree, so the (right) derivative is not checked, and not failed."""
    point = {"theta": 0.4, "lambda": 6.0, "sigma": 3.0, "gamma": 0.5, "psi": 0.0}
    tolerance = {"atol": 1e-5, "rtol": 1e-3}
    for h in (1e-6, 1e-7, 1e-8):  # the premise, independently of the package
        assert not within(central(11, point, "theta", h, single=True),
                          central(11, point, "theta", h / 2, single=True), tolerance)
    # and smaller steps do not change the kernel at all: their differences "agree" at 0
    assert not np.any(central(11, point, "theta", 1e-10, single=True))
    args = ["gradcheck", *SMALL, "--random", "2", "--kernel", f"{user}:kernel_single",
            "--derivative", f"{user}:derivative"]
    result = invoke(*args, "--json")
    assert result.code == 3, result.describe()
    data = result.json()
    assert data["result"] == "unresolved"
    assert data["passed"] is False
    assert not [c for c in data["checks"] if c["result"] == "fail"]
    for c in kernel_checks(data):
        assert c["result"] == "unresolved", c
        assert c["max_abs_error"] is None  # no point was checked
        assert c["unresolved_points"] == data["points"]
        assert c["unsettled"] > data["rtol"]
    code, out, err = invoke(*args)
    assert code == 3, err
    text = flat(out)
    assert "FAIL" not in text
    assert "some derivatives disagree" not in text
    assert "d kernel / d theta: finite differences do not settle at 4 of 4 points" in text
    assert "not checked there" in text
    assert "could not be checked" in text


def test_a_wrong_derivative_of_an_unresolvable_kernel_is_not_passed(user: Path) -> None:
    result = invoke("gradcheck", *SMALL, "--random", "2", "--json",
                    "--kernel", f"{user}:kernel_single", "--derivative", f"{user}:sign_flip")
    assert result.code in (1, 3), result.describe()
    theta = next(c for c in kernel_checks(result.json()) if c["param"] == "theta")
    assert theta["result"] in ("fail", "unresolved")
    assert not theta["passed"]


def test_a_coarse_first_step_is_halved_until_resolved() -> None:
    """--fd-step 0.1 is too coarse at every point (independently: its difference misses
    the true derivative); the step is halved and every derivative passes where the
    central difference at the step it reports is the derivative."""
    result = invoke("gradcheck", *SMALL, "--random", "2", "--fd-step", "0.1", "--json")
    assert result.code == 0, result.describe()
    data = result.json()
    assert data["result"] == "pass"
    theta = next(c for c in kernel_checks(data) if c["param"] == "theta")
    for point, step in zip(data["points"], theta["steps"]):
        truth = complex_step(11, point, "theta")
        assert not within(central(11, point, "theta", 0.1), truth, data)
        assert step < 0.1
    assert_passes_are_resolved(data, 11)


def test_the_reference_case_keeps_its_step_and_passes() -> None:
    """The defaults: every derivative passes at the first step, the one given (no
    halving, so the figures are those of a plain central difference of step 1e-6)."""
    result = invoke("gradcheck", "--json")
    assert result.code == 0, result.describe()
    data = result.json()
    assert data["result"] == "pass"
    assert data["eps"] == 1e-6
    for c in data["checks"]:
        assert c["steps"] == [data["eps"]] * len(data["points"]), c
        assert c["point_results"] == ["pass"] * len(data["points"])
        assert c["unresolved_points"] == []
        assert c["unsettled"] is None
    for c in kernel_checks(data):  # the figures, recomputed at that step
        ratios = []
        for point in data["points"]:
            numeric = central(21, point, c["param"], data["eps"])
            truth = complex_step(21, point, c["param"])
            ratios.append(np.linalg.norm(truth - numeric) / np.linalg.norm(numeric))
        assert c["max_rel_error"] < 1e-8
        assert max(ratios) < 1e-8
    code, out, err = invoke("gradcheck")
    assert code == 0, err
    text = flat(out)
    assert "(step 1e-06) at 7 points" in text
    assert "all derivatives agree" in text


# -- a user's kernel --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["theta", "lambda", "sigma", "gamma", "psi"])
@pytest.mark.parametrize(("lambd", "sigma"), [(0.001, 4.0), (0.3, 0.5), (10.0, 4.0)])
def test_finite_differences_of_a_user_kernel_resolve_a_length_below_a_pixel(
        user: Path, name: str, lambd: float, sigma: float) -> None:
    """Without --derivative a user's kernel is differentiated by central differences,
    whose step shrinks with lambda or sigma below a pixel: they match the true
    derivative (a complex step of the reference kernel) at gradcheck's tolerances."""
    model = UserKernel(load_callable(f"{user}:kernel", "--kernel"), None)
    point = {"theta": 0.3, "lambda": lambd, "sigma": sigma, "gamma": 0.5, "psi": 0.2}
    found = model.derivative(11, point, name)
    truth = complex_step(11, point, name)
    assert np.all(np.abs(found - truth) <= 1e-5 + 1e-3 * np.abs(truth)), name
    assert fd_step(point, name, 1e-6) <= 1e-6 * max(1.0, abs(point[name]))


def test_extreme_lambda_a_user_kernel_without_derivative_passes(user: Path) -> None:
    result = invoke("gradcheck", *EXTREME, "--random", "2", "--json",
                    "--kernel", f"{user}:kernel")
    assert result.code in (0, 3), result.describe()
    assert result.json()["result"] in ("pass", "unresolved")


def test_user_kernel_gradcheck_uses_finite_differences(capsys: pytest.CaptureFixture[str],
                                                       user: Path) -> None:
    code, out, err = invoke("gradcheck", *SMALL, "--random", "2",
                             "--kernel", f"{user}:kernel")
    assert code == 0, err
    assert "finite differences" in flat(out)
    code, data = gradcheck_json(capsys, "--random", "2", "--kernel", f"{user}:kernel")
    assert code == 0
    assert "finite differences" in data["derivative_source"]


def test_user_kernel_with_a_wrong_user_derivative_fails(capsys: pytest.CaptureFixture[str],
                                                        user: Path) -> None:
    code, data = gradcheck_json(capsys, "--kernel", f"{user}:kernel",
                                "--derivative", f"{user}:sign_flip")
    assert code == 1
    check = next(c for c in data["checks"] if c["what"] == "kernel" and c["param"] == "theta")
    assert not check["passed"]
    assert "sign" in check["diagnosis"]


RECOVER = [*SMALL, "--steps", "40"]


def test_user_kernel_recover_matches_ours(capsys: pytest.CaptureFixture[str],
                                          user: Path) -> None:
    code, out, err = invoke("recover", *RECOVER, "--json")
    assert code == 0, err
    ours = json.loads(out)
    code, out, err = invoke("recover", *RECOVER, "--json",
                             "--kernel", f"{user}:kernel")
    assert code == 0, err
    theirs = json.loads(out)
    assert theirs["config"]["kernel"] == f"{user}:kernel"
    np.testing.assert_allclose(theirs["params"]["theta"], ours["params"]["theta"],
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(theirs["loss"], ours["loss"], rtol=1e-6, atol=1e-9)
    assert theirs["verdict"]["kind"] == ours["verdict"]["kind"]


@pytest.mark.parametrize("command", [["recover", *RECOVER], ["landscape", *SMALL,
                                                             "--points", "64"]],
                         ids=["recover", "landscape"])
@pytest.mark.parametrize(("engine", "phrase"), [("direct", "finite differences"),
                                                ("spectral", "Fourier series")])
def test_user_kernel_output_says_where_derivatives_come_from(
        capsys: pytest.CaptureFixture[str], user: Path, command: list[str], engine: str,
        phrase: str) -> None:
    """Issue 6: with --kernel and no --derivative the output says where derivatives
    come from: finite differences of the kernel, or (spectral engine) the loss's
    Fourier series, which needs none."""
    code, out, err = invoke(*command, "--kernel", f"{user}:kernel",
                             "--engine", engine)
    assert code == 0, err
    text = flat(out)
    assert "your kernel" in text, out[-1500:]
    assert phrase in text, out[-1500:]


def test_user_kernel_landscape_matches_ours(capsys: pytest.CaptureFixture[str],
                                            user: Path) -> None:
    """The user's kernel equals ours: the same stationary points, each once."""
    args = ["landscape", *SMALL, "--points", "64", "--json"]
    code, out, err = invoke(*args)
    assert code == 0, err
    ours = json.loads(out)
    code, out, err = invoke(*args, "--kernel", f"{user}:kernel")
    assert code == 0, err
    theirs = json.loads(out)
    values = sorted(p["value"] for p in theirs["stationary_points"])
    assert all(b - a > 1e-6 for a, b in itertools.pairwise(values)), values
    low = theirs["grid"][0]
    span = (low, low + theirs["period"])
    expected = sorted(p["value"] for p in ours["stationary_points"])
    # the user's landscape may span 2 pi (its symmetry is unknown): compare mod pi
    assert sorted({round(v % math.pi, 6) for v in values}) == sorted(
        {round(v % math.pi, 6) for v in expected}), (values, expected, span)
    expected_in_span = [v + k * math.pi for v in expected for k in (-2, -1, 0, 1, 2)
                        if span[0] - 1e-9 <= v + k * math.pi < span[1] - 1e-9]
    assert len(values) == len(expected_in_span), (values, expected_in_span)


# -- errors in the user's code or its spec ------------------------------------------------------

def test_error_kernel_module_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*invoke("gradcheck", *SMALL, "--kernel",
                                "nonexistent_gabordiag_module:func"), "--kernel")


def test_error_kernel_file_not_found(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    missing = tmp_path / "missing.py"
    err = assert_usage_error(*invoke("gradcheck", *SMALL, "--kernel",
                                      f"{missing}:kernel"), "--kernel")
    assert "does not exist" in err


def test_error_kernel_function_missing(capsys: pytest.CaptureFixture[str],
                                       user: Path) -> None:
    err = assert_usage_error(*invoke("gradcheck", *SMALL, "--kernel",
                                      f"{user}:missing"), "--kernel")
    assert "missing" in err


@pytest.mark.parametrize("option", ["--kernel", "--derivative"])
def test_error_wrong_shape(capsys: pytest.CaptureFixture[str], user: Path,
                           option: str) -> None:
    err = assert_usage_error(*invoke("gradcheck", *SMALL, option, f"{user}:wide"),
                             option)
    assert "shape" in err
    assert "(11, 12)" in err


@pytest.mark.parametrize("command", ["gradcheck", "recover", "landscape"])
@pytest.mark.parametrize("option", ["--kernel", "--derivative"])
@pytest.mark.parametrize("spec", ["foo", "file.py:", ":func", "mod:not-an-identifier"])
def test_error_malformed_spec(capsys: pytest.CaptureFixture[str], command: str,
                              option: str, spec: str) -> None:
    assert_usage_error(*invoke(command, *SMALL, option, spec), option)


def test_error_user_module_that_fails_to_import(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy as np\nraise RuntimeError('import-time failure')\n")
    err = assert_usage_error(*invoke("gradcheck", *SMALL, "--kernel",
                                      f"{broken}:kernel"), "--kernel")
    assert "import-time failure" in err


@pytest.mark.parametrize(("option", "function"), [
    ("--kernel", "raises"), ("--derivative", "raises"), ("--derivative", "no_param"),
    ("--kernel", "text"), ("--derivative", "text")])
def test_error_user_function_that_raises(capsys: pytest.CaptureFixture[str], user: Path,
                                         option: str, function: str) -> None:
    """An exception in the user's function is the user's error: one line naming the
    option, exit 2 (not a traceback, and not exit 1, which means 'derivatives differ')."""
    assert_usage_error(*invoke("gradcheck", *SMALL, option, f"{user}:{function}"),
                       option)


# -- mismatch_explanations on synthetic arrays ----------------------------------------------

@pytest.fixture
def reference() -> np.ndarray:
    return np.random.default_rng(3).standard_normal((11, 11))


def test_mismatch_sign(reference: np.ndarray) -> None:
    assert "sign" in (diagnose_mismatch(-reference, reference) or "")


@pytest.mark.parametrize(("factor", "label"), [(2.0, "2"), (0.5, "1/2"),
                                               (math.pi / 180, "pi/180"), (3.7, "3.7")])
def test_mismatch_factor(reference: np.ndarray, factor: float, label: str) -> None:
    text = diagnose_mismatch(factor * reference, reference) or ""
    assert "factor" in text, text
    assert label in text, text


def test_mismatch_transposed(reference: np.ndarray) -> None:
    assert "transposed" in (diagnose_mismatch(reference.T, reference) or "")


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (-1, 1), (2, -2)])
def test_mismatch_rolled(reference: np.ndarray, shift: tuple[int, int]) -> None:
    text = diagnose_mismatch(np.roll(reference, shift, axis=(0, 1)), reference) or ""
    assert "centre" in text, text
    assert f"{shift[0]} row(s) and {shift[1]} column(s)" in text


def test_mismatch_mirrored(reference: np.ndarray) -> None:
    assert "mirrored" in (diagnose_mismatch(reference[:, ::-1], reference) or "")
    assert "rotated" in (diagnose_mismatch(reference[::-1, ::-1], reference) or "")


def test_mismatch_none_for_noise_and_for_the_right_answer(reference: np.ndarray) -> None:
    noise = np.random.default_rng(4).standard_normal(reference.shape)
    assert diagnose_mismatch(noise, reference) is None
    assert mismatch_explanations(noise, reference) == []
    assert diagnose_mismatch(reference + 0.3 * noise, reference) is None
    assert diagnose_mismatch(np.zeros_like(reference), np.zeros_like(reference)) is None


def diagnose_mismatch(analytic: np.ndarray, reference: np.ndarray) -> str | None:
    """The first explanation, or None."""
    found = mismatch_explanations(analytic, reference)
    return found[0] if found else None
