"""``run_basins`` and the ``basins`` command (issue 5): outcomes over starting angles.

The reference for every outcome is a single ``recover`` run with the same start,
loss, optimizer and learning rate; the reference for the stability bound is a
finite-difference curvature of the direct engine's loss.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from conftest import ERROR_PREFIX, PNG_MAGIC, invoke

from gabordiag.analysis import basins
from gabordiag.analysis.basins import BasinsResult
from gabordiag.analysis.recover import RecoverResult
from gabordiag.analysis.recover import recover as recover_study
from gabordiag.analysis.study import Study
from gabordiag.config import Config, resolve_config
from gabordiag.config.choices import VERDICTS
from gabordiag.engines.direct import DirectEngine
from gabordiag.errors import ConfigError, LimitError

SMALL = {"size": 48, "ksize": 9, "sigma": 2, "lambda": 5, "seed": 0, "steps": 100}
SMALL_ARGS = ["--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5",
              "--seed", "0", "--steps", "100", "--starts", "24"]


def config(**values: Any) -> Config:
    raw = {key.replace("_", "-"): value for key, value in values.items()}
    return resolve_config(raw)[0]


def small(**values: Any) -> Config:
    return config(**{**SMALL, **values})


def mse_curvature_at_target(cfg: Config) -> float:
    """Central second difference of the direct engine's MSE at the target."""
    engine = DirectEngine(Study(cfg).problem(loss="mse"))
    h = 1e-4
    t = cfg.target_theta
    loss = engine.loss(np.array([[t - h], [t], [t + h]]))
    return float((loss[0] - 2 * loss[1] + loss[2]) / h**2)


def run_basins(cfg: Config, *args: Any, **kwargs: Any) -> BasinsResult:
    """``run_basins`` on a fresh study of ``cfg``."""
    return basins.run_basins(Study(cfg), *args, **kwargs)


def start_grid(cfg: Config, n: int) -> np.ndarray:
    return basins.start_grid(Study(cfg), n)


def recover(cfg: Config) -> RecoverResult:
    return recover_study(Study(cfg))


# -- agreement with single runs ----------------------------------------------------------

CASES = [  # (loss, optimizer, lr, momentum): converging, cycling, momentum, adam, direct
    ("mse", "sgd", 5e-3, 0.0),
    ("rmse", "sgd", 2e-2, 0.0),
    ("mse", "sgd", 3e-3, 0.9),
    ("rmse", "adam", 3e-2, 0.0),
    ("l1", "sgd", 1e-2, 0.0),
]


@pytest.mark.slow
@pytest.mark.parametrize(("loss", "optimizer", "lr", "momentum"), CASES)
def test_outcomes_agree_with_single_recover_runs(loss: str, optimizer: str, lr: float,
                                                 momentum: float) -> None:
    cfg = small(loss=loss, optimizer=optimizer, lr=lr, momentum=momentum)
    result = run_basins(cfg, starts=24)
    assert len(result.cases) == 1
    case = result.cases[0]
    assert (case.loss, case.optimizer, case.lr) == (loss, optimizer, lr)
    assert len(case.kinds) == len(case.final) == len(case.steps_to_converge) == 24
    for i in range(0, 24, 3):  # 8 starts
        single = recover(replace(cfg, theta0=float(result.starts[i])))
        assert single.verdict.kind == case.kinds[i], (i, result.starts[i])
        final = float(single.trajectory.params[-1, 0])
        if math.isfinite(final):
            assert case.final[i] == pytest.approx(final, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n", [9, 10, 72, 360, 361])
def test_start_grid_spans_one_period_and_avoids_the_target(n: int) -> None:
    for psi, period in ((0.0, math.pi), (0.5, 2 * math.pi)):
        cfg = small(psi=psi, target_theta=0.3)
        grid = start_grid(cfg, n)
        np.testing.assert_allclose(np.diff(grid), period / n, rtol=1e-9)
        assert grid[0] == pytest.approx(0.3 - period / 2 + 0.25 * period / n)
        assert grid[-1] < 0.3 + period / 2
        # no start is the target or an angle equivalent to it (target + k period)
        offset = np.mod(grid - 0.3, period)
        gap = np.minimum(offset, period - offset)
        assert gap.min() >= 0.25 * period / n - 1e-12
    result = run_basins(replace(small(target_theta=0.3), loss="mse", lr=1e-3, steps=5),
                        starts=n)
    np.testing.assert_allclose(result.starts, start_grid(small(target_theta=0.3), n),
                               rtol=0, atol=0)
    assert result.cases[0].summary()["starts_at_answer"] == 0


def test_a_start_on_the_answer_is_not_counted_as_a_recovery() -> None:
    from gabordiag.analysis.basins import judge_runs
    from gabordiag.descent.runner import run_descents

    cfg = small(loss="mse", lr=1e-4, steps=20)
    study = Study(cfg)
    engine = study.engine()
    starts = np.array([cfg.target_theta, cfg.target_theta + math.pi, 0.2, 1.4])
    descents = run_descents(engine, cfg.optimizer_settings, starts[:, None], cfg.steps)
    outcomes = judge_runs(descents, engine)
    assert outcomes.started_at_answer == [True, True, False, False]
    assert outcomes.kinds[:2] == ["converged", "converged-equivalent"]
    # the two starts on the answer are left out of the rate: it is that of the others
    others = [k in ("converged", "converged-equivalent") for k in outcomes.kinds[2:]]
    assert outcomes.success_rate == pytest.approx(sum(others) / 2)


@pytest.mark.parametrize("loss", ["mse", "rmse", "rmse-eps", "l1"])
@pytest.mark.parametrize("engine", ["auto", "quadratic", "direct"])
def test_starts_on_the_answer_are_the_starts_whose_kernel_is_the_target(loss, engine) -> None:
    # the loss at a start decides most of them without a kernel: the same answers
    from gabordiag.analysis.basins import started_at_answer
    from gabordiag.descent.runner import run_descents

    if loss == "l1" and engine != "direct":
        engine = "direct"
    cfg = small(loss=loss, lr=1e-4, steps=2, engine=engine)
    problem_engine = Study(cfg).engine()
    target = cfg.target_theta
    starts = np.concatenate([target + np.array([0.0, 1e-5, -3e-5, 1e-4, 3e-4, 1e-3, 3e-3]),
                             target + math.pi + np.array([0.0, 2e-5, -2e-4]),
                             np.linspace(-3, 3, 40)])
    descents = run_descents(problem_engine, cfg.optimizer_settings, starts[:, None], 2)
    expected = problem_engine.problem.gives_target_kernel(starts[:, None])
    assert expected[:3].all()
    assert not expected[-40:].any()
    np.testing.assert_array_equal(started_at_answer(descents, problem_engine), expected)


def test_summary_fractions() -> None:
    result = run_basins(small(loss="rmse", lr=3e-3), starts=24,
                        losses=["rmse", "mse"], lrs=[1e-3, 1e-2])
    for case in result.cases:
        summary = case.summary()
        fractions = summary["fractions"]
        assert set(fractions) == set(VERDICTS)
        assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-12)
        for kind in VERDICTS:
            assert fractions[kind] == pytest.approx(case.kinds.count(kind) / 24)
        assert summary["success_rate"] == pytest.approx(
            fractions["converged"] + fractions["converged-equivalent"])
        converged = [s for s in case.steps_to_converge if s is not None]
        assert len(converged) == round(summary["success_rate"] * 24)
        steps = [s for s in converged if s > 0]  # a start at the target takes no step
        if steps:
            assert summary["median_steps_to_converge"] == pytest.approx(np.median(steps))
        else:
            assert summary["median_steps_to_converge"] is None


def test_mse_below_the_bound_recovers_and_rmse_at_the_reference_lr_cycles() -> None:
    # DESIGN.md's reference setup (the defaults), 24 starts over one period
    cfg = config(steps=100)
    bound = 2 / mse_curvature_at_target(cfg)
    mse = run_basins(replace(cfg, loss="mse", lr=0.5 * bound), starts=24).cases[0]
    assert mse.summary()["success_rate"] >= 0.95
    assert all(k in ("converged", "converged-equivalent") for k in mse.kinds[1:])
    assert cfg.loss == "rmse"
    assert cfg.lr == 3e-3
    rmse = run_basins(cfg, starts=24).cases[0]
    fractions = rmse.summary()["fractions"]
    assert fractions["cycling"] >= 0.5
    assert rmse.summary()["success_rate"] <= 0.1  # only the start at the target itself
    # above the bound MSE fails too: the bound is the boundary
    above = run_basins(replace(cfg, loss="mse", lr=1.2 * bound), starts=24).cases[0]
    assert above.summary()["success_rate"] <= 0.1


def test_several_cases_in_order() -> None:
    cfg = small(loss="mse", steps=20)
    result = run_basins(cfg, starts=8, lrs=[1e-3, 3e-3], optimizers=["sgd", "adam"],
                        losses=["mse", "rmse"])
    got = [(c.loss, c.optimizer, c.lr) for c in result.cases]
    want = [(loss, opt, lr) for loss in ("mse", "rmse") for opt in ("sgd", "adam")
            for lr in (1e-3, 3e-3)]
    assert got == want
    assert set(result.engines) == {"mse", "rmse"}
    # each case is the same as running it alone
    alone = run_basins(replace(cfg, loss="rmse", optimizer="adam", lr=1e-3), starts=8)
    assert alone.cases[0].kinds == result.cases[6].kinds
    assert alone.cases[0].final == result.cases[6].final


def test_progress_reports_every_step() -> None:
    seen: list[int] = []
    run_basins(small(loss="mse", steps=10), starts=4, lrs=[1e-3, 2e-3], progress=seen.append)
    assert seen == list(range(1, 11)) + list(range(11, 21))


def test_errors() -> None:
    with pytest.raises(ConfigError, match="--learn"):
        run_basins(small(learn="theta,lambda"), starts=4)
    with pytest.raises(LimitError, match="--starts"):
        run_basins(small(), starts=0)
    with pytest.raises(LimitError, match="--steps"):
        run_basins(small(steps=1_000_000), starts=100)


# -- the command -----------------------------------------------------------------------

def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke("basins", *SMALL_ARGS, "--loss", "mse", "--loss",
                             "rmse", "--lr", "1e-3", "--lr", "5e-3", "--json")
    assert code == 0
    assert err == ""
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["schema"] == "gabordiag.basins/1"
    assert len(data["starts"]) == 24
    assert [(c["loss"], c["lr"]) for c in data["cases"]] == [
        ("mse", 1e-3), ("mse", 5e-3), ("rmse", 1e-3), ("rmse", 5e-3)]
    for case in data["cases"]:
        assert len(case["outcomes"]) == 24
        assert set(case["outcomes"]) <= set(VERDICTS)
        assert len(case["final_theta"]) == 24
        assert sum(case["summary"]["fractions"].values()) == pytest.approx(1.0)
    direct = run_basins(small(loss="mse"), starts=24, lrs=[1e-3, 5e-3],
                        losses=["mse", "rmse"])
    assert [c["outcomes"] for c in data["cases"]] == [c.kinds for c in direct.cases]


def test_cli_lr_range_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke("basins", *SMALL_ARGS, "--loss", "mse",
                             "--lr-range", "1e-4,1e-2,3", "--json")
    assert code == 0, err
    lrs = [c["lr"] for c in json.loads(out)["cases"]]
    np.testing.assert_allclose(lrs, [1e-4, 1e-3, 1e-2], rtol=1e-12)

    code, out, err = invoke("basins", *SMALL_ARGS, "--loss", "mse", "--lr", "3e-3",
                             "--optimizer", "sgd", "--optimizer", "adam")
    assert code == 0
    assert err == ""
    assert "mse sgd lr=0.003" in out
    assert "mse adam lr=0.003" in out
    assert out.index("mse sgd") < out.index("mse adam")


@pytest.mark.slow
def test_cli_plot(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    png = tmp_path / "basins.png"
    code, _, err = invoke("basins", *SMALL_ARGS, "--loss", "mse", "--lr", "1e-3",
                           "--lr", "5e-3", "--plot", png)
    assert code == 0, err
    assert png.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(("args", "names"), [
    (["--learn", "sigma"], ["--learn"]),
    (["--starts", "0"], ["--starts"]),
    (["--lr-range", "1e-2,1e-4,3"], ["--lr-range", "1e-2,1e-4,3"]),
    (["--lr-range", "1e-4,1e-2"], ["--lr-range"]),
    (["--lr-range", "a,b,c"], ["--lr-range"]),
    (["--lr-range", "1e-4,1e-2,1"], ["--lr-range"]),
    (["--lr", "1e-3", "--lr-range", "1e-4,1e-2,3"], ["--lr-range", "--lr"]),
    (["--lr", "-1"], ["--lr", "-1"]),
    (["--loss", "mse", "--loss", "cosine"], ["--loss", "cosine"]),
    (["--optimizer", "lbfgs"], ["--optimizer", "lbfgs"]),
    (["--plot", "map.gif"], ["--plot"]),
])
def test_cli_errors(capsys: pytest.CaptureFixture[str], args: list[str],
                    names: list[str]) -> None:
    code, out, err = invoke("basins", *SMALL_ARGS, *args)
    assert code == 2, (code, err)
    assert out == ""
    assert err.startswith(ERROR_PREFIX), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    assert "Traceback" not in err
    for name in names:
        assert name in err, (name, err)


def test_the_table_title_counts_in_words_for_one_start_and_one_step() -> None:
    r = invoke("basins", "--size", "48", "--ksize", "9", "--sigma", "2", "--lambda", "5",
               "--starts", "1", "--steps", "1")
    assert r.code == 0, r.describe()
    title = " ".join(r.out.split("\n\n")[0].split())
    assert "Outcomes of 1 descent from a start over one period (1 step each)" in title, title
