"""``gabordiag check`` (issue 7): ``[expect]`` tables as a CI regression check.

Measured values are compared with independent references: the stability bound with a
finite-difference curvature of the direct engine's loss, the steps to converge with a
plain gradient-descent loop written here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
from conftest import ERROR_PREFIX, invoke

from gabordiag.analysis.study import Study
from gabordiag.cli import main
from gabordiag.config import resolve_config
from gabordiag.engines.direct import DirectEngine

REPO = Path(__file__).resolve().parent.parent

# A small experiment that converges: MSE, plain SGD well below the stability bound.
EXPERIMENT = """\
size = 48
ksize = 9
sigma = 2.0
lambda = 5.0
seed = 0
loss = "mse"
optimizer = "sgd"
lr = 3e-3
steps = 100
theta0 = 0.5
target-theta = "pi/4"
"""
PASSING = EXPERIMENT + """
[expect]
verdict = ["converged", "converged-equivalent"]
max_final_error = 1e-6
max_steps = 60
period = "pi"
max_stable_lr_at_least = 5e-3
max_stable_lr_at_most = 2e-2
n_spurious_minima_at_most = 0
min_success_rate = 0.5
basins_starts = 12
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_usage_error(code: int, out: str, err: str, *names: str) -> None:
    assert code == 2, (code, err, out[:300])
    assert out == ""
    assert err.startswith(ERROR_PREFIX), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)


def plain_text(out: str) -> str:
    """The table's text without borders and line breaks (cells may wrap)."""
    return re.sub(r"[\s│┃┆║|]+", " ", out)


def the_experiment() -> Any:
    return resolve_config({"size": 48, "ksize": 9, "sigma": 2, "lambda": 5, "seed": 0,
                           "loss": "mse", "lr": 3e-3, "steps": 100, "theta0": 0.5})[0]


def stability_bound() -> float:
    """2 / curvature at the target, the curvature by central differences."""
    engine = DirectEngine(Study(the_experiment()).problem())
    t, h = math.pi / 4, 1e-4
    loss = engine.loss(np.array([[t - h], [t], [t + h]]))
    return float(2 * h**2 / (loss[0] - 2 * loss[1] + loss[2]))


def steps_to_settle_by_hand(tol: float = 1e-4) -> int:
    """theta <- theta - lr * dL/dtheta, 100 times; the last step still >= tol from the
    end point, plus one."""
    cfg = the_experiment()
    engine = DirectEngine(Study(cfg).problem())
    theta = [cfg.theta0]
    for _ in range(cfg.steps):
        grad = engine.loss_and_grad(np.array([[theta[-1]]]))[1][0, 0]
        theta.append(theta[-1] - cfg.lr * grad)
    far = [i for i, v in enumerate(theta) if abs(v - theta[-1]) >= tol]
    return far[-1] + 1 if far else 0


# -- pass and fail -----------------------------------------------------------------------

def test_a_passing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short paths: the table has 80 columns
    path = write(Path("ok.toml"), PASSING)
    code, out, err = invoke("check", path)
    assert code == 0, (err, out)
    text = plain_text(out)
    assert "ok.toml" in text
    assert "FAIL" not in text
    assert "8 passed, 0 failed" in text  # every key but basins_starts is one expectation

    code, out, err = invoke("check", path, "--json")
    assert code == 0
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["schema"] == "gabordiag.check/1"
    assert data["passed"] is True
    (entry,) = data["files"]
    results = {r["key"]: r for r in entry["results"]}
    assert "basins_starts" not in results  # a setting of the sweep, not an expectation
    assert set(results) == {"verdict", "max_final_error", "max_steps", "period",
                            "max_stable_lr_at_least", "max_stable_lr_at_most",
                            "n_spurious_minima_at_most", "min_success_rate"}
    assert all(r["passed"] for r in results.values())
    assert results["max_stable_lr_at_least"]["measured"] == pytest.approx(
        stability_bound(), rel=1e-5)
    assert results["max_steps"]["measured"] == steps_to_settle_by_hand()
    assert results["period"]["measured"] == "pi"


def test_a_failing_expectation_says_which_and_by_how_much(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", EXPERIMENT + """
[expect]
verdict = "converged"
max_stable_lr_at_least = 0.02
max_steps = 1
period = "2pi"
""")
    code, out, err = invoke("check", path)
    assert code == 1, err
    text = plain_text(out)
    for key in ("max_stable_lr_at_least", "max_steps", "period"):
        assert key in text
    assert "off by" in text
    assert "1 passed, 3 failed" in text

    code, out, err = invoke("check", path, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["passed"] is False
    results = {r["key"]: r for r in data["files"][0]["results"]}
    assert results["verdict"]["passed"] is True
    bound = stability_bound()
    lr = results["max_stable_lr_at_least"]
    assert lr["passed"] is False
    assert lr["measured"] == pytest.approx(bound, rel=1e-5)
    assert f"off by {0.02 - lr['measured']:.4g}" in lr["message"]
    steps = results["max_steps"]
    assert steps["passed"] is False
    assert steps["measured"] == steps_to_settle_by_hand()
    assert f"off by {steps['measured'] - 1}" in steps["message"]
    period = results["period"]
    assert period["passed"] is False
    assert period["measured"] == "pi"
    assert "2pi" in period["message"]


def test_a_verdict_that_does_not_hold(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    path = write(tmp_path / "v.toml", EXPERIMENT + '\n[expect]\nverdict = ["cycling", '
                 '"diverged"]\n')
    code, out, _ = invoke("check", path, "--json")
    assert code == 1
    (result,) = json.loads(out)["files"][0]["results"]
    assert result["measured"] == "converged"
    assert not result["passed"]
    assert "cycling" in result["message"]
    assert "diverged" in result["message"]


# -- config errors: exit 2 -----------------------------------------------------------------

def test_malformed_toml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "broken.toml", EXPERIMENT + "\n[expect\nverdict = 'converged'\n")
    assert_usage_error(*invoke("check", path), "broken.toml", "TOML")


def test_unknown_expect_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "unknown.toml", EXPERIMENT + "\n[expect]\nperiod = 'pi'\n"
                 "max_loss = 0.1\n")
    assert_usage_error(*invoke("check", path), "unknown.toml", "max_loss")


@pytest.mark.parametrize(("line", "key"), [
    ("verdict = 3", "verdict"),
    ("verdict = 'winning'", "verdict"),
    ("verdict = []", "verdict"),
    ("verdict = ['converged', 1]", "verdict"),
    ("period = 3.14", "period"),
    ("period = 'tau'", "period"),
    ("max_steps = 1.5", "max_steps"),
    ("max_steps = '10'", "max_steps"),
    ("max_steps = -1", "max_steps"),
    ("max_final_error = -0.1", "max_final_error"),
    ("max_final_error = nan", "max_final_error"),
    ("max_final_error = 'small'", "max_final_error"),
    ("min_success_rate = 1.5", "min_success_rate"),
    ("min_success_rate = true", "min_success_rate"),
    ("max_stable_lr_at_least = [1e-3]", "max_stable_lr_at_least"),
    ("n_spurious_minima_at_most = 0.5", "n_spurious_minima_at_most"),
    ("basins_starts = 0", "basins_starts"),
    ("basins_starts = 1e9", "basins_starts"),
])
def test_wrong_value_types(capsys: pytest.CaptureFixture[str], tmp_path: Path, line: str,
                           key: str) -> None:
    path = write(tmp_path / "types.toml", EXPERIMENT + f"\n[expect]\n{line}\nperiod = 'pi'\n")
    assert_usage_error(*invoke("check", path), "types.toml", key)


@pytest.mark.parametrize("tail", ["\n[expect]\n", "\n[expect]\nbasins_starts = 10\n",
                                  "expect = 3\n"])
def test_an_expect_table_that_states_nothing(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, tail: str) -> None:
    path = write(tmp_path / "empty.toml", EXPERIMENT + tail if tail.startswith("\n")
                 else tail + EXPERIMENT)
    assert_usage_error(*invoke("check", path), "empty.toml", "expect")


def test_a_bad_experiment_key_is_a_config_error(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    path = write(tmp_path / "k.toml", EXPERIMENT.replace("lr = 3e-3", "lr = -1")
                 + "\n[expect]\nperiod = 'pi'\n")
    assert_usage_error(*invoke("check", path), "k.toml", "lr")


@pytest.mark.parametrize(("change", "names"), [
    ('learn = ["theta", "lambda"]\nsteps = 100', ("w.toml", "key 'learn'",
                                                  "min_success_rate")),
    ("steps = 1000000", ("w.toml", "'steps'", "'basins_starts'", "1,000,000")),
])
def test_a_sweep_the_file_cannot_run_is_refused_in_its_own_words(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, change: str,
        names: tuple[str, ...]) -> None:
    text = PASSING.replace("basins_starts = 12", "basins_starts = 10000")
    path = write(tmp_path / "w.toml", text.replace("steps = 100", change))
    code, out, err = invoke("check", path)
    assert_usage_error(code, out, err, *names)
    assert "--" not in err  # a file's keys, not the options


@pytest.mark.parametrize("which", ["missing", "empty-dir"])
def test_paths_that_hold_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 which: str) -> None:
    if which == "missing":
        target = tmp_path / "nope.toml"
    else:
        target = tmp_path / "empty"
        target.mkdir()
        write(target / "notes.txt", "not toml")
    assert_usage_error(*invoke("check", target), str(target))


def test_one_bad_file_stops_the_run_before_anything_is_measured(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path / "suite" / "a_ok.toml", PASSING)
    write(tmp_path / "suite" / "z_bad.toml", EXPERIMENT + "\n[expect]\nverdict = 'meh'\n")
    junit = tmp_path / "report.xml"
    code, out, err = invoke("check", tmp_path / "suite", "--junit", junit)
    assert_usage_error(code, out, err, "z_bad.toml", "verdict")
    assert not junit.exists()


# -- directories, JUnit, JSON --------------------------------------------------------------

def make_suite(root: Path) -> dict[str, Path]:
    return {
        "ok": write(root / "ok.toml", PASSING),
        "nested": write(root / "sub" / "deeper" / "nested.toml", EXPERIMENT + """
[expect]
period = "pi"
n_spurious_minima_at_most = 0
"""),
        "failing": write(root / "sub" / "failing.toml", EXPERIMENT + """
[expect]
verdict = "cycling"
period = "pi"
max_stable_lr_at_most = 1e-3
"""),
        "plain": write(root / "sub" / "plain.toml", EXPERIMENT),
        "other": write(root / "README.txt", "[expect]\nverdict = 1\n"),
    }


def test_a_directory_is_searched_recursively(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # short paths: the table has 80 columns
    files = make_suite(Path("suite"))
    code, out, err = invoke("check", "suite", "--json")
    assert code == 1, err
    data = json.loads(out)
    assert data["schema"] == "gabordiag.check/1"
    assert data["passed"] is False
    checked = {Path(f["path"]).name: f for f in data["files"]}
    assert set(checked) == {"ok.toml", "nested.toml", "failing.toml"}
    assert checked["ok.toml"]["passed"]
    assert checked["nested.toml"]["passed"]
    assert not checked["failing.toml"]["passed"]
    assert [Path(p).name for p in data["skipped"]] == ["plain.toml"]  # no [expect]
    assert Path(data["skipped"][0]) == files["plain"]
    failed = [r["key"] for r in checked["failing.toml"]["results"] if not r["passed"]]
    assert sorted(failed) == ["max_stable_lr_at_most", "verdict"]
    code, out, err = invoke("check", "suite")  # the table says why plain.toml was skipped
    assert code == 1, err
    assert f"{files['plain']}: no [expect] table, skipped" in out

    # the passing files alone (a directory and a file) pass
    code, out, err = invoke("check", files["ok"], Path("suite", "sub", "deeper"))
    assert code == 0, err
    text = plain_text(out)
    assert "ok.toml" in text
    assert "nested.toml" in text


def test_a_long_path_keeps_its_file_name_in_the_table(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    path = write(tmp_path / ("a-rather-long-directory-name-" * 2) / "failing_case.toml",
                 EXPERIMENT + '\n[expect]\nperiod = "2pi"\n')
    code, out, _ = invoke("check", path)
    assert code == 1
    assert "failing_case.toml" in plain_text(out).replace(" ", "")  # wrapped or not


def test_only_files_without_expectations(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    path = write(tmp_path / "plain.toml", EXPERIMENT)
    code, out, err = invoke("check", path, "--json")
    # a CI job must not pass while checking nothing
    assert code == 2
    assert out == ""
    assert "[expect]" in err
    assert len(err.strip().splitlines()) == 1


def test_junit_xml_parses_and_counts(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    make_suite(tmp_path / "suite")
    junit = tmp_path / "junit.xml"
    code, out, err = invoke("check", tmp_path / "suite", "--junit", junit, "--json")
    assert code == 1, err
    data = json.loads(out)
    root = ElementTree.parse(junit).getroot()
    assert root.tag == "testsuites"
    results = [r for f in data["files"] for r in f["results"]]
    n_failed = sum(not r["passed"] for r in results)
    assert (len(results), n_failed) == (8 + 2 + 3, 2)
    assert int(root.get("tests")) == len(results) == len(root.findall(".//testcase"))
    assert int(root.get("failures")) == n_failed == len(root.findall(".//failure"))
    suites = root.findall("testsuite")
    assert sorted(Path(s.get("name")).name for s in suites) == [
        "failing.toml", "nested.toml", "ok.toml"]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        for case in cases:
            float(case.get("time"))
            failure = case.find("failure")
            if failure is not None:
                assert case.get("name") in ("verdict", "max_stable_lr_at_most")
                assert failure.get("message")
                assert case.get("name") in failure.text
    failing = next(s for s in suites if s.get("name").endswith("failing.toml"))
    bound = failing.find("testcase[@name='max_stable_lr_at_most']/failure")
    assert "off by" in bound.get("message")


def test_junit_for_a_passing_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "ok.toml", PASSING)
    junit = tmp_path / "out.xml"
    code, _, err = invoke("check", path, "--junit", junit)
    assert code == 0, err
    root = ElementTree.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("8", "0")
    assert root.findall(".//failure") == []


def test_junit_path_is_checked_first(capsys: pytest.CaptureFixture[str],
                                     tmp_path: Path) -> None:
    path = write(tmp_path / "ok.toml", PASSING)
    assert_usage_error(*invoke("check", path, "--junit",
                                tmp_path / "no" / "dir" / "x.xml"), "--junit")


# -- the project's own expectations -------------------------------------------------------

def test_the_projects_configs_pass(capsys: pytest.CaptureFixture[str]) -> None:
    configs = REPO / "configs"
    assert sorted(p.name for p in configs.rglob("*.toml"))
    assert main(["check", str(configs)]) == 0, capsys.readouterr()
