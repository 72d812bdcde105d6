"""The study: one experiment built once (issue 11), and the two CLI bugs that came from
logic in the command modules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error, gabor, invoke

from gabordiag.analysis.recover import recover
from gabordiag.analysis.study import Study
from gabordiag.config import resolve_config
from gabordiag.engines import gram

SMALL = {"size": 48, "ksize": 9, "sigma": 2, "lambda": 5, "steps": 40}


def small(**changes: object) -> Study:
    return Study(resolve_config({**SMALL, **changes})[0])


def test_engines_and_problems_are_built_once() -> None:
    study = small()
    assert study.engine() is study.engine()
    assert study.problem() is study.problem()
    assert study.problem(loss="mse").image is study.image


def test_one_gram_serves_every_loss_of_the_mse_family(monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    original = gram.gram_matrix
    monkeypatch.setattr(gram, "gram_matrix",
                        lambda padded, k: built.append(k) or original(padded, k))
    study = small()
    rmse, mse, eps = (study.engine(loss=name) for name in ("rmse", "mse", "rmse-eps"))
    assert [rmse.name, mse.name, eps.name] == ["spectral"] * 3
    assert len(built) == 1
    theta = np.array([[0.2], [1.0]])
    # the shared series gives each loss its own values: rmse = sqrt(mse)
    np.testing.assert_allclose(rmse.loss(theta), np.sqrt(mse.loss(theta)), rtol=1e-12)
    study.engine(loss="mse", learn=("theta", "sigma"), evaluations=10**6)  # quadratic
    assert len(built) == 1  # the same image: the same Gram matrix
    study.engine(blur=1.5)
    assert len(built) == 2  # another image, another Gram matrix
    assert study.grams_built == 2


def test_a_variant_shares_the_image_and_gram_but_not_the_results() -> None:
    study = small()
    first = recover(study)
    variant = study.variant(loss="mse", lr=1e-4)
    assert variant.image is study.image
    study.gram()
    assert variant.grams_built == 1
    second = recover(variant)
    assert second is not first
    assert second.config.loss == "mse"
    assert recover(study) is first  # results are kept per study
    other = study.variant(seed=1)  # another image: nothing shared
    assert other.image is not study.image
    assert not np.array_equal(other.image, study.image)


def test_python_api_takes_the_toml_key_spellings() -> None:
    a, _ = resolve_config({"target_theta": "pi/3", "loss_eps": "0.5"})
    b, _ = resolve_config({"target-theta": "pi/3", "loss-eps": "0.5"})
    assert a == b
    assert a.loss_eps == 0.5


def test_kernel_command_shows_the_users_kernel(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # a user kernel with the orientation's sign flipped
    (tmp_path / "mine.py").write_text(
        "from conftest_gabor import gabor\n"
        "def kernel(ksize, *, sigma, theta, lambd, gamma, psi):\n"
        "    return gabor(ksize, -theta, sigma, lambd, gamma, psi)\n")
    (tmp_path / "conftest_gabor.py").write_text(
        "import numpy as np\n"
        "def gabor(ksize, theta, sigma, lambd, gamma, psi):\n"
        "    c = ksize // 2\n"
        "    y, x = np.mgrid[0:ksize, 0:ksize].astype(float) - c\n"
        "    xr = x * np.cos(theta) + y * np.sin(theta)\n"
        "    yr = -x * np.sin(theta) + y * np.cos(theta)\n"
        "    return np.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * np.cos(\n"
        "        2 * np.pi * xr / lambd + psi)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    r = invoke("kernel", "--ksize", "9", "--sigma", "2", "--lambda", "5",
                "--kernel", "mine.py:kernel", "--json")
    assert r.code == 0, r.err
    data = r.json()
    target = np.array(data["kernels"]["target"])
    np.testing.assert_allclose(target, gabor(9, -np.pi / 4, 2, 5, 0.5), atol=1e-14)
    assert not np.allclose(target, gabor(9, np.pi / 4, 2, 5, 0.5), atol=1e-3)
    assert "mine.py:kernel" in data["source"]
    text = invoke("kernel", "--ksize", "9", "--kernel", "mine.py:kernel")
    assert "your kernel mine.py:kernel" in " ".join(text.out.split())


def test_landscape_on_a_tiny_image_names_ksize_not_range(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    image = tmp_path / "tiny.npy"
    np.save(image, np.random.default_rng(0).standard_normal((10, 10)))
    message = assert_usage_error(invoke("landscape", "--image", image), "--ksize")
    assert "--range" not in message
    assert "larger than the image (10x10)" in message


def test_an_error_that_is_not_ours_is_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from gabordiag.analysis import landscape
    from gabordiag.cli import main

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(landscape, "run_landscape", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["landscape", "--size", "48", "--ksize", "9"])


def test_json_of_recover_is_the_result_to_dict(capsys: pytest.CaptureFixture[str]) -> None:
    r = invoke("recover", "--size", "48", "--ksize", "9", "--sigma", "2",
                "--lambda", "5", "--steps", "40", "--json")
    assert r.code == 0
    expected = recover(small()).to_dict()
    assert json.loads(json.dumps({**expected, "warnings": []})) == r.json()
