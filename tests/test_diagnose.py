"""``diagnose`` and the ``diagnose`` command (issue 6): findings computed, not canned.

Each test changes the setup and checks that the findings change with it; the figures
in the evidence are compared with independent computations (a central-difference
curvature and a sampled loss of the direct engine, the angle arithmetic of DESIGN.md).
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ERROR_PREFIX, PNG_MAGIC, invoke

from gabordiag.analysis.diagnose import SCHEMA, Diagnosis, diagnose
from gabordiag.analysis.study import Study
from gabordiag.config import Config, resolve_config
from gabordiag.core import images
from gabordiag.core.losses import Loss
from gabordiag.engines import gram
from gabordiag.engines.direct import DirectEngine

SEVERITIES = ("high", "medium", "info")
# the reference case, shortened: 200 steps show every symptom; 8 starts keep it fast
FAST = {"steps": "200"}
STARTS = 8
REFERENCE_IDS = {"nonvanishing-gradient", "cycling", "start-at-maximum", "pi-periodic"}
PROBLEM_IDS = {"derivative-wrong", "nonvanishing-gradient", "lr-above-bound", "momentum",
               "cycling", "local-minimum", "stalled", "diverged", "not-converged",
               "few-starts-recover", "spurious-minima", "start-at-maximum", "remedies"}


def config(**values: Any) -> Config:
    raw = {**FAST, **{k.replace("_", "-"): v for k, v in values.items()}}
    return resolve_config(raw)[0]


_CACHE: dict[tuple[tuple[str, Any], ...], Diagnosis] = {}


def diagnosed(**values: Any) -> Diagnosis:
    key = tuple(sorted(values.items()))
    if key not in _CACHE:
        _CACHE[key] = diagnose(Study(config(**values)), starts=STARTS)
    return _CACHE[key]


def findings(d: Diagnosis) -> dict[str, Any]:
    ids = [f.id for f in d.findings]
    assert len(ids) == len(set(ids)), ids
    return {f.id: f for f in d.findings}


def mse_curvature(cfg: Config) -> float:
    """Central second difference of the direct engine's MSE at the target."""
    engine = DirectEngine(replace(Study(cfg).problem(), loss=Loss("mse")))
    h = 1e-4
    t = cfg.target_theta
    values = engine.loss(np.array([[t - h], [t], [t + h]]))
    return float((values[0] - 2 * values[1] + values[2]) / h**2)


def distance_modulo(a: float, b: float, period: float) -> float:
    d = (a - b) % period
    return min(d, period - d)


def assert_ordered(d: Diagnosis) -> None:
    ranks = [SEVERITIES.index(f.severity) for f in d.findings]
    assert ranks == sorted(ranks), [(f.severity, f.id) for f in d.findings]


# -- the reference case -----------------------------------------------------------------------

def test_reference_case_findings() -> None:
    d = diagnosed()
    found = findings(d)
    assert d.run.verdict.kind == "cycling"
    assert REFERENCE_IDS <= set(found), list(found)
    assert_ordered(d)
    # nothing that does not hold: plain sgd without momentum, loss rmse, right derivatives
    assert not {"momentum", "lr-above-bound", "derivative-wrong", "recovered"} & set(found)
    assert found["cycling"].severity == found["nonvanishing-gradient"].severity == "high"


def test_reference_case_evidence_matches_independent_figures() -> None:
    d = diagnosed()
    cfg = d.config
    found = findings(d)
    # pi-periodic: the start -0.785 (the reported -pi/4) is about pi/2 from pi/4 modulo pi
    ev = found["pi-periodic"].evidence
    assert ev["period"] == pytest.approx(math.pi)
    assert ev["distance_to_target_equivalent"] == pytest.approx(
        distance_modulo(cfg.theta0, cfg.target_theta, math.pi))
    assert ev["distance_to_target_equivalent"] == pytest.approx(math.pi / 2, abs=1e-3)
    # the rmse slope at the minimum: rmse = sqrt(c/2) |theta - theta*| near it
    slope = math.sqrt(mse_curvature(cfg) / 2)
    ev = found["nonvanishing-gradient"].evidence
    assert ev["one_sided_slope"] == pytest.approx(slope, rel=1e-3)
    assert ev["step"] == pytest.approx(cfg.lr * slope, rel=1e-3)
    assert ev["end_gradient"] == pytest.approx(slope, rel=0.1)
    # cycling around an angle equivalent to the target
    ev = found["cycling"].evidence
    assert ev["minimum_is_target"] is True
    assert distance_modulo(ev["minimum"], cfg.target_theta, math.pi) < 1e-3
    assert ev["period"] == 2
    # a 2-cycle: the amplitude is half the last swing, which is about lr x slope
    thetas = d.run.trajectory.params[:, 0]
    assert abs(thetas[-1] - thetas[-2]) / 2 == pytest.approx(ev["amplitude"], rel=0.1)
    assert ev["amplitude"] == pytest.approx(cfg.lr * slope / 2, rel=0.2)
    # the start sits where the gradient is a few percent of its largest
    engine = DirectEngine(Study(cfg).problem())
    grid = cfg.target_theta - math.pi / 2 + math.pi * np.arange(361) / 360
    _, grads = engine.loss_and_grad(np.concatenate([[cfg.theta0], grid])[:, None])
    relative = abs(grads[0, 0]) / np.abs(grads[1:, 0]).max()
    assert found["start-at-maximum"].evidence["grad_relative"] == pytest.approx(
        relative, rel=0.05)
    assert relative < 0.1


def test_reference_case_answers() -> None:
    d = diagnosed()
    assert d.gradcheck.passed
    assert d.answers["is the derivative wrong"].startswith("no")
    assert d.answers["is the code wrong"].startswith("no")
    assert "the failure is the optimisation (cycling)" in d.answers["is the code wrong"]
    assert "the target's kernel" in d.answers["is there a reachable minimum"]
    # the recipe: numbered commands, the measured fix among them
    commands = [step.command for step in d.recipe]
    assert commands[0].startswith("gabordiag gradcheck")
    assert any(c.startswith("gabordiag remedies") for c in commands)
    fix = d.remedies.remedies[0]
    assert f"step {len(d.recipe) - 1} is the measured fix" in d.answers["how to debug it"]
    assert d.recipe[-2].shows.startswith(f"{fix.id} from theta0: converged")
    assert "remedies" in findings(d)
    best = findings(d)["remedies"].evidence["ranking"][0]
    assert best == d.remedies.remedies[0].id


# -- changing the setup changes the findings ---------------------------------------------------

def test_psi_not_a_multiple_of_pi_is_not_pi_periodic() -> None:
    d = diagnosed(psi="0.5")
    found = findings(d)
    assert "pi-periodic" not in found
    assert d.landscape.landscape is not None
    assert d.landscape.landscape.period == pytest.approx(2 * math.pi)
    assert_ordered(d)


def test_mse_below_the_bound_in_the_target_basin_has_no_problems() -> None:
    cfg = config(loss="mse", lr="3e-4", theta0="0.6")
    assert cfg.lr < 2 / mse_curvature(cfg)
    d = diagnosed(loss="mse", lr="3e-4", theta0="0.6")
    assert d.run.verdict.kind == "converged"
    assert {f.severity for f in d.findings} == {"info"}, [(f.severity, f.id)
                                                        for f in d.findings]
    assert all(f.fix is None for f in d.findings)
    found = findings(d)
    assert "recovered" in found
    assert not PROBLEM_IDS & set(found)
    assert "nothing needs fixing: recovery works" in d.answers["how to debug it"]
    assert not any("remedies" in step.command for step in d.recipe)


def test_mse_above_the_bound_names_the_ratio() -> None:
    d = diagnosed(loss="mse", lr="3e-3")
    found = findings(d)
    assert "lr-above-bound" in found
    assert "nonvanishing-gradient" not in found  # the mse gradient vanishes
    finding = found["lr-above-bound"]
    assert finding.severity == "high"
    ratio = 3e-3 / (2 / mse_curvature(d.config))
    assert finding.evidence["ratio"] == pytest.approx(ratio, rel=1e-3)
    assert f"{ratio:.3g} times" in finding.message
    assert d.run.verdict.kind not in ("converged", "converged-equivalent")
    assert_ordered(d)


@pytest.mark.slow
def test_a_run_that_lands_in_a_spurious_minimum() -> None:
    d = diagnosed(seed="0")
    cfg = d.config
    found = findings(d)
    assert d.run.verdict.kind == "local-minimum"
    assert found["spurious-minima"].severity == "high"
    assert found["local-minimum"].severity == "high"
    assert_ordered(d)
    # the spurious minima of the sampled loss (a minimum that is not the target's)
    engine = DirectEngine(Study(cfg).problem())
    grid = cfg.target_theta - math.pi / 2 + math.pi * np.arange(720) / 720
    loss = engine.loss(grid[:, None])
    local = np.flatnonzero((loss < np.roll(loss, 1)) & (loss < np.roll(loss, -1)))
    spurious = [grid[i] for i in local
                if distance_modulo(grid[i], cfg.target_theta, math.pi) > 0.01]
    assert found["spurious-minima"].evidence["n_spurious_minima"] == len(spurious) > 0
    # the run ended next to one of them
    final = float(d.run.trajectory.params[-1, 0])
    assert min(distance_modulo(final, s, math.pi) for s in spurious) < 0.02
    assert "pi-periodic" in found
    assert found["pi-periodic"].severity == "info"


def test_momentum_adds_its_finding() -> None:
    d = diagnosed(momentum="0.9")
    found = findings(d)
    assert "momentum" in found
    assert found["momentum"].evidence["momentum"] == pytest.approx(0.9)
    # rmse has a kink at the minimum: no lr is stable there, with momentum or without
    # (tests/test_truth_table.py recomputes the factor momentum gives a smooth loss)
    assert "no lr is stable there" in found["momentum"].message
    assert "momentum" not in findings(diagnosed())
    assert_ordered(d)


# -- the command -------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_json_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    directory = tmp_path / "report"
    code, out, err = invoke("diagnose", "--steps", "200", "--starts", STARTS,
                             "--json", "--report", directory)
    assert code == 0, err
    assert out.count("\n") == 1  # one JSON object and nothing else
    data = json.loads(out)
    assert data["schema"] == SCHEMA == "gabordiag.diagnose/1"
    assert data["verdict"]["kind"] == "cycling"
    assert data["gradcheck_passed"] is True
    ids = [f["id"] for f in data["findings"]]
    assert REFERENCE_IDS <= set(ids)
    for f in data["findings"]:
        assert set(f) >= {"id", "severity", "message", "evidence"}
        assert f["severity"] in SEVERITIES
        assert isinstance(f["message"], str)
        assert f["message"]
        assert isinstance(f["evidence"], dict)
    ranks = [SEVERITIES.index(f["severity"]) for f in data["findings"]]
    assert ranks == sorted(ranks)
    # the same findings as the library call
    assert ids == [f.id for f in diagnosed().findings]

    markdown = (directory / "report.md").read_text(encoding="utf-8")
    for finding_id in ids:
        assert finding_id in markdown
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) >= 3
    for name in images:
        path = directory / name
        assert path.is_file(), name
        assert path.read_bytes().startswith(PNG_MAGIC)
    for remedy in data["remedies"]:
        assert remedy["id"] in markdown
    # the config the report says reruns it is there, and reruns the same experiment
    assert "config.toml" in markdown
    code, out, err = invoke("diagnose", "--config", directory / "config.toml", "--json")
    assert code == 0, err
    assert json.loads(out)["config"] == data["config"]

    page = (directory / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    sources = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)["\']', page)
    assert sources, "the figures must be embedded"
    assert all(s.startswith("data:") for s in sources), sources
    assert "url(" not in page
    assert "@import" not in page
    for name in images:  # no reference to a file beside it (the recipe may name one)
        assert f'"{name}"' not in page
        assert f"({name})" not in page
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(embedded) == len(images)
    assert all(base64.b64decode(b).startswith(PNG_MAGIC) for b in embedded)
    for finding_id in ids:
        assert finding_id in page
    leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cli_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke("diagnose", "--steps", "200", "--starts", STARTS,
                             "--momentum", "0.9")
    assert code == 0, err
    assert "Findings" in out
    assert "Answers" in out
    flat = " ".join(out.split())
    for finding_id in ("momentum", "cycling", "nonvanishing-gradient"):
        assert finding_id in flat
    assert "[high]" in flat
    assert "fix:" in flat


@pytest.mark.parametrize(("args", "name"), [
    (["--learn", "theta,sigma"], "--learn"),
    (["--starts", "2"], "--starts"),
    (["--loss", "cosine"], "--loss"),
])
def test_cli_errors(capsys: pytest.CaptureFixture[str], args: list[str], name: str) -> None:
    code, out, err = invoke("diagnose", "--steps", "20", *args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith(ERROR_PREFIX), err
    assert err.count("\n") == 1, err
    assert name in err


def test_cli_report_path_that_is_a_file(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("not a directory")
    code, out, err = invoke("diagnose", "--steps", "20", "--report", blocker)
    assert code == 2
    assert out == ""
    assert err.startswith(ERROR_PREFIX)
    assert "--report" in err
    assert blocker.read_text() == "not a directory"


# -- one study: built once ------------------------------------------------------------------

def test_one_diagnose_makes_the_image_once_and_each_gram_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    built: list[tuple[int, int]] = []
    make_image, gram_matrix = images.make_image, gram.gram_matrix

    def counting_image(source: str, **kwargs: Any) -> np.ndarray:
        made.append(source)
        return make_image(source, **kwargs)

    def counting_gram(padded: np.ndarray, ksize: int) -> np.ndarray:
        built.append(padded.shape)
        return gram_matrix(padded, ksize)

    monkeypatch.setattr(images, "make_image", counting_image)
    monkeypatch.setattr(gram, "gram_matrix", counting_gram)
    result = diagnose(Study(config(steps="60")), starts=4)
    assert result.remedies.remedies  # every stage ran: gradcheck to remedies
    assert made == ["pink"]
    # two distinct problems need a Gram matrix: the image and its blurred copy
    # (coarse-to-fine); rmse and mse share one
    assert len(built) == 2


@pytest.mark.parametrize("values", [{}, {"seed": "0", "loss": "mse", "lr": "3e-4"}])
def test_few_starts_recover_counts_the_starts_that_recovered(values: dict[str, Any]) -> None:
    d = diagnosed(**values)
    finding = findings(d).get("few-starts-recover")
    assert finding is not None
    outcomes = d.basins.cases[0].outcomes
    moved = [k for k, at in zip(outcomes.kinds, outcomes.started_at_answer) if not at]
    recovered = sum(kind in ("converged", "converged-equivalent") for kind in moved)
    if recovered == 0:
        assert finding.message.startswith(f"none of the {len(moved)} starts")
    else:
        share = f"{recovered / len(moved):.0%}"
        assert finding.message.startswith(f"only {recovered} of {len(moved)} starts ({share})")
