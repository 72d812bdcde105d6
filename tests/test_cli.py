"""The command line: one happy path per command and every error path of issue 2.

Commands run in-process through ``gabordiag.cli.main(argv) -> int`` (exit code, stdout
and stderr captured), plus real subprocess calls of the installed entry point.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import math
import subprocess
import tomllib

import numpy as np
import pytest
from conftest import (
    ERROR_PREFIX,
    FAST,
    PNG_MAGIC,
    assert_usage_error,
    entry_point,
    gabor,
    invoke,
    leftovers,
    replace_options,
)
from scipy.signal import correlate2d

import gabordiag
from gabordiag.config import resolve_config

# -- recover ---------------------------------------------------------------------------------

def test_recover_reference_case_text(capsys):
    r = invoke("recover")
    assert r.code == 0, r.err
    assert r.err == ""  # no progress bar when stderr is not a terminal
    out = r.out
    # the words, whatever rich's line wrapping inside the panels
    flat = " ".join(out.replace("│", " ").split())
    for title in ("Setup", "Trajectory", "Gradient magnitude", "Verdict"):
        assert title in out, title
    assert "cycling" in flat
    assert "period-2 oscillation" in flat
    assert "does not vanish" in flat  # RMSE: why the run cannot settle
    assert "-0.7850" in out  # the start, the reported -pi/4


def test_recover_reference_case_json(capsys):
    r = invoke("recover", "--json")
    assert r.code == 0
    assert r.err == ""
    data = r.json()
    assert data["schema"] == "gabordiag.recover/1"
    assert {"config", "params", "loss", "grads", "verdict"} <= set(data)
    config = data["config"]
    assert config["theta0"] == -0.785  # the reported start, as typed in the report
    assert config["target-theta"] == pytest.approx(math.pi / 4, rel=1e-15)
    assert config["steps"] == 300
    assert config["loss"] == "rmse"
    theta = data["params"]["theta"]
    assert theta[0] == config["theta0"]
    assert len(data["loss"]) == len(theta) == len(data["grads"]["theta"]) == 301
    verdict = data["verdict"]
    assert verdict["kind"] == "cycling"
    assert {"kind", "message", "evidence"} <= set(verdict)
    ev = verdict["evidence"]
    assert ev["period"] == 2
    assert ev["amplitude"] > 0
    # the minimum the cycle surrounds is the target modulo pi (psi = 0)
    turns = (ev["minimum"] - math.pi / 4) / math.pi
    assert turns == pytest.approx(round(turns), abs=1e-5)
    assert ev["minimum_is_target"] is True
    # descent first lowered the loss, then it jumps back up again and again
    loss = np.array(data["loss"])
    assert loss.min() < 0.1 * loss[0]
    assert int(np.sum(loss[1:] > 2 * loss[:-1])) > 10
    # the gradient magnitude: from the start to near the end
    assert data["gradient"]["start"] == pytest.approx(abs(data["grads"]["theta"][0]))
    assert data["gradient"]["nonvanishing_at_minimum"] is True
    # keys sorted, so that the output is stable
    assert r.out == json.dumps(data, sort_keys=True) + "\n"


def test_recover_json_is_byte_identical_for_the_same_config(capsys):
    first = invoke("recover", "--json", *FAST)
    second = invoke("recover", "--json", *FAST)
    assert first.code == second.code == 0
    assert first.out == second.out
    data = first.json()
    assert len(data["loss"]) == 31
    assert first.out == json.dumps(data, sort_keys=True) + "\n"


def test_recover_json_numbers_match_an_independent_computation(capsys, tmp_path):
    """The loss is RMSE of a valid cross-correlation (scipy here); the gradient is its
    derivative; SGD steps by lr times the gradient."""
    image = np.random.default_rng(3).standard_normal((32, 32))
    path = tmp_path / "image.npy"
    np.save(path, image)
    ksize, sigma, lambd, gamma, lr = 7, 2.0, 4.0, 0.5, 1e-3
    r = invoke("recover", "--json", "--image", path, "--no-standardize",
                "--ksize", ksize, "--sigma", sigma, "--lambda", lambd, "--gamma", gamma,
                "--theta0", "0.3", "--target-theta", "pi/4", "--loss", "rmse", "--lr", lr,
                "--steps", "3")
    assert r.code == 0, r.err
    data = r.json()

    def rmse(theta):
        out = correlate2d(image, gabor(ksize, theta, sigma, lambd, gamma), mode="valid")
        target = correlate2d(image, gabor(ksize, math.pi / 4, sigma, lambd, gamma),
                             mode="valid")
        return math.sqrt(np.mean((out - target) ** 2))

    theta = data["params"]["theta"]
    grads = data["grads"]["theta"]
    assert theta[0] == 0.3
    h = 1e-6
    for i in range(4):
        assert data["loss"][i] == pytest.approx(rmse(theta[i]), rel=1e-10)
        fd = (rmse(theta[i] + h) - rmse(theta[i] - h)) / (2 * h)
        assert grads[i] == pytest.approx(fd, rel=1e-6)
    for i in range(3):
        assert theta[i + 1] == pytest.approx(theta[i] - lr * grads[i], rel=1e-14)


@pytest.mark.parametrize(("option", "text", "key", "expected"), [
    ("--theta0", "-0.785", "theta0", -0.785),
    ("--theta0", "-pi/4", "theta0", -math.pi / 4),
    ("--theta0", "-45deg", "theta0", -math.pi / 4),
    ("--target-theta", "45deg", "target-theta", math.pi / 4),
    ("--target-theta", "3*pi/8", "target-theta", 3 * math.pi / 8),
])
def test_angles_on_the_command_line(capsys, option, text, key, expected):
    r = invoke("recover", "--json", *replace_options(FAST, "--steps", "2"), option, text)
    assert r.code == 0, r.err
    data = r.json()
    assert data["config"][key] == pytest.approx(expected, rel=1e-15)
    if key == "theta0":
        assert data["params"]["theta"][0] == data["config"]["theta0"]
    shown = invoke("config", "show", option, text)
    assert shown.code == 0
    assert tomllib.loads(shown.out)[key] == data["config"][key]
    text_run = invoke("recover", *replace_options(FAST, "--steps", "2"), option, text)
    assert text_run.code == 0
    assert f"{math.degrees(expected):.1f}°" in text_run.out  # shown in the Setup panel


def test_config_file_with_an_override(capsys, tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('loss = "mse"\nlr = 1e-4\nsteps = 10\nsize = 48\nksize = 9\n'
                    'theta0 = "pi/3"\n', encoding="utf-8")
    r = invoke("recover", "--json", "--config", path, "--steps", "5")
    assert r.code == 0, r.err
    data = r.json()
    config = data["config"]
    assert (config["loss"], config["lr"], config["size"], config["ksize"]) == (
        "mse", 1e-4, 48, 9)
    assert config["steps"] == 5  # the command line wins
    assert config["theta0"] == pytest.approx(math.pi / 3)
    assert len(data["loss"]) == 6


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_recover_figure_writes_a_valid_file(capsys, tmp_path, suffix):
    path = tmp_path / f"run{suffix}"
    r = invoke("recover", *FAST, "--plot", path)
    assert r.code == 0, r.err
    data = path.read_bytes()
    if suffix == ".png":
        assert data.startswith(PNG_MAGIC)
    elif suffix == ".svg":
        text = data.decode("utf-8")
        assert "<svg" in text
        assert text.rstrip().endswith("</svg>")
    else:
        assert data.startswith(b"%PDF-")
        assert b"%%EOF" in data[-64:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_recover_csv_has_a_header_and_one_row_per_step(capsys, tmp_path):
    path = tmp_path / "run.csv"
    r = invoke("recover", "--json", *FAST, "--csv", path)
    assert r.code == 0, r.err
    data = r.json()
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert header == ["step", "theta", "loss", "grad_theta", "step_size"]
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 31
    assert [int(row[0]) for row in rows] == list(range(31))
    np.testing.assert_array_equal([float(row[1]) for row in rows], data["params"]["theta"])
    np.testing.assert_array_equal([float(row[2]) for row in rows], data["loss"])
    np.testing.assert_array_equal([float(row[3]) for row in rows], data["grads"]["theta"])
    sizes = np.abs(np.diff(data["params"]["theta"]))
    np.testing.assert_allclose([float(row[4]) for row in rows[:-1]], sizes, rtol=1e-15)


def test_recover_with_several_learned_parameters(capsys):
    r = invoke("recover", "--json", *FAST, "--learn", "sigma", "--learn", "theta",
                "--loss", "mse", "--lr", "1e-4")
    assert r.code == 0, r.err
    data = r.json()
    assert data["config"]["learn"] == ["theta", "sigma"]
    assert set(data["params"]) == set(data["grads"]) == {"theta", "sigma"}
    assert data["params"]["sigma"][0] == 2.0  # starts at the target's value


@pytest.mark.parametrize("lr", ["1e12", "1e300"])
def test_recover_a_diverging_run(capsys, tmp_path, lr):
    """A run that is thrown out of the landscape is reported, not a crash or a warning."""
    csv = tmp_path / "run.csv"
    r = invoke("recover", *FAST, "--loss", "l1", "--lr", lr, "--csv", csv)
    assert r.code == 0
    assert r.err == ""
    assert "diverged" in r.out
    data = invoke("recover", "--json", *FAST, "--loss", "l1", "--lr", lr).json()
    assert data["verdict"]["kind"] == "diverged"
    step = data["verdict"]["evidence"]["step"]
    assert len(data["loss"]) == step + 1
    assert abs(data["params"]["theta"][step]) > 1e6
    assert len(csv.read_text(encoding="utf-8").splitlines()) == step + 2


@pytest.mark.slow
def test_recover_figure_of_a_diverging_run_finishes(tmp_path):
    # a subprocess with a timeout: this used to draw one line per loss period between
    # the start and theta ~ 1e13, i.e. hang
    png = tmp_path / "run.png"
    command = [*entry_point(), "recover", *FAST, "--lr", "1e12", "--plot", str(png)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"wrote {png}\n"
    assert "diverged" in proc.stdout
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_recover_a_single_step(capsys):
    r = invoke("recover", "--json", *replace_options(FAST, "--steps", "1"))
    assert r.code == 0
    assert r.err == ""
    data = r.json()
    assert len(data["loss"]) == 2
    assert data["verdict"]["kind"] == "not-converged"


# -- kernel -----------------------------------------------------------------------------------

def test_kernel_json_matches_the_formula(capsys):
    r = invoke("kernel", "--json", "--ksize", "9", "--sigma", "2", "--lambda", "5",
                "--gamma", "0.5", "--theta0", "-pi/4")
    assert r.code == 0
    assert r.err == ""
    data = r.json()
    assert data["schema"] == "gabordiag.kernel/1"
    assert r.out == json.dumps(data, sort_keys=True) + "\n"
    kernels = {name: np.array(k) for name, k in data["kernels"].items()}
    assert set(kernels) == {"target", "start", "d/dtheta"}
    for k in kernels.values():
        assert k.shape == (9, 9)
    target = gabor(9, math.pi / 4, 2, 5, 0.5)
    np.testing.assert_allclose(kernels["target"], target, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(
        kernels["target"],
        gabordiag.gabor_kernel(9, sigma=2, theta=math.pi / 4, lambd=5, gamma=0.5, psi=0))
    np.testing.assert_allclose(kernels["start"], gabor(9, -math.pi / 4, 2, 5, 0.5),
                               rtol=1e-12, atol=1e-15)
    h = 1e-6
    fd = (gabor(9, -math.pi / 4 + h, 2, 5, 0.5) - gabor(9, -math.pi / 4 - h, 2, 5, 0.5)) / (2 * h)
    np.testing.assert_allclose(kernels["d/dtheta"], fd, rtol=1e-6, atol=1e-8)


def test_kernel_json_has_a_derivative_per_learned_parameter(capsys):
    r = invoke("kernel", "--json", "--ksize", "7", "--learn", "theta,sigma",
                "--sigma0", "3")
    assert r.code == 0
    kernels = r.json()["kernels"]
    assert set(kernels) == {"target", "start", "d/dtheta", "d/dsigma"}
    h = 1e-6
    fd = (gabor(7, -0.785, 3 + h, 10, 0.5) - gabor(7, -0.785, 3 - h, 10, 0.5)) / (2 * h)
    np.testing.assert_allclose(kernels["d/dsigma"], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_kernel_text_and_plot(capsys, tmp_path):
    r = invoke("kernel", "--ksize", "9")
    assert r.code == 0
    assert r.err == ""
    for name in ("Kernels (9x9)", "target", "start", "d/dtheta"):
        assert name in r.out
    path = tmp_path / "kernels.png"
    r = invoke("kernel", "--ksize", "9", "--plot", path)
    assert r.code == 0, r.err
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernels.png"]


# -- config show -------------------------------------------------------------------------------

def test_config_show_prints_the_resolved_config(capsys):
    r = invoke("config", "show", "--theta0", "-pi/4", "--loss", "mse",
                "--optimizer", "adam", "--learn", "sigma,theta", "--lambda", "inf")
    assert r.code == 0
    assert r.err == ""
    shown = tomllib.loads(r.out)
    assert shown["theta0"] == -math.pi / 4
    assert shown["loss"] == "mse"
    assert shown["optimizer"] == "adam"
    assert shown["lr"] == 1e-3  # torch's default for Adam
    assert shown["learn"] == ["theta", "sigma"]
    assert shown["lambda"] == math.inf
    expected, _ = resolve_config({"theta0": "-pi/4", "loss": "mse", "optimizer": "adam",
                                  "learn": "sigma,theta", "lambda": "inf"})
    assert shown == expected.to_dict()


def test_config_show_output_reproduces_the_run(capsys, tmp_path):
    options = [*FAST, "--theta0", "45deg", "--loss", "mse", "--lr", "1e-3", "--seed", "11"]
    r = invoke("config", "show", *options)
    assert r.code == 0
    path = tmp_path / "resolved.toml"
    path.write_text(r.out, encoding="utf-8")
    from_file = invoke("recover", "--json", "--config", path)
    direct = invoke("recover", "--json", *options)
    assert from_file.code == direct.code == 0
    assert from_file.out == direct.out
    # and the resolved file resolves to itself
    again = invoke("config", "show", "--config", path)
    assert again.out == r.out


# -- version and help --------------------------------------------------------------------------

def test_version(capsys):
    r = invoke("--version")
    assert r.code == 0
    assert r.err == ""
    assert r.out == f"gabordiag {gabordiag.__version__}\n"
    assert importlib.metadata.version("gabordiag") == gabordiag.__version__


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["recover", "--help"],
                                  ["kernel", "--help"], ["config", "--help"],
                                  ["config", "show", "--help"]])
def test_help(capsys, args):
    r = invoke(*args)
    assert r.code == 0
    assert r.err == ""
    assert "Usage" in r.out


@pytest.mark.parametrize("command", ["recover", "landscape", "basins", "remedies", "diagnose",
                                     "gradcheck", "kernel", "check", "layer"])
def test_help_paragraphs_are_wrapped_by_the_terminal_not_the_docstring(
        monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """At 80 columns no line of a command's description is a stub left by a docstring's
    own line break (``start`` / ``at`` / ``-pi/4, ...``)."""
    monkeypatch.setenv("COLUMNS", "80")
    out = invoke(command, "--help").out
    description = out.split("Usage:")[1].split("╭")[0].split("+-")[0]
    lines = [line.strip() for line in description.splitlines()[1:]]
    for line, following in itertools.pairwise(lines):
        if line and following:  # inside a paragraph: a line the width could not hold
            assert len(line) + 1 + len(following.split()[0]) > 78, (line, following)


ISSUE_FLAGS = ["--image", "--size", "--seed", "--ksize", "--sigma", "--lambda", "--gamma",
               "--psi", "--target-theta", "--theta0", "--learn", "--loss", "--optimizer",
               "--lr", "--momentum", "--nesterov", "--betas", "--alpha", "--eps", "--steps",
               "--op", "--boundary", "--no-standardize", "--config"]


@pytest.mark.parametrize(("command", "own"), [
    (["recover"], ["--json", "--plot", "--csv"]),
    (["kernel"], ["--json", "--plot"]),
    (["config", "show"], []),
])
def test_help_lists_every_experiment_flag(capsys, command, own):
    out = invoke(*command, "--help").out
    for flag in [*ISSUE_FLAGS, *own]:
        assert flag in out, flag


def test_no_command_shows_help_without_an_empty_error_line(capsys):
    """A group called without a command shows its help and exits 2 (click's usage-error
    code), with no "gabordiag: error:" line that says nothing."""
    for args in ([], ["config"]):
        r = invoke(*args)
        assert r.code == 2
        assert "Usage" in r.out
        assert ERROR_PREFIX not in r.err


# -- error paths: exit 2, one line naming the option or key, no file left ---------------------

@pytest.fixture
def inputs(tmp_path):
    """Bad input files for the error paths."""
    files = {
        "garbage.png": b"\x89PNG\r\n\x1a\nthis is not a png",
        "garbage.npy": b"not a numpy file",
        "garbage.jpg": b"\xff\xd8\xff\xe0 truncated",
        "malformed.toml": b"sigma = \n",
        "unknown.toml": b'loss = "mse"\nlearning_rate = 0.1\n',
        "badvalue.toml": b"sigma = -1.0\n",
        "badangle.toml": b'theta0 = "north"\n',
        "latin1.toml": 'image = "b\u00e4d.npy"\n'.encode("latin-1"),
        "listangle.toml": b"theta0 = [1.0]\n",
        "hugeint.toml": b"sigma = 1" + b"0" * 400 + b"\n",
        "longint.toml": b"steps = " + b"9" * 5000 + b"\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.save(tmp_path / "vector.npy", np.arange(50.0))
    np.save(tmp_path / "constant.npy", np.ones((40, 40)))
    np.save(tmp_path / "tiny.npy", np.random.default_rng(0).standard_normal((5, 5)))
    (tmp_path / "adir.toml").mkdir()
    return tmp_path


ERRORS = [
    # arguments ({d}: the input directory), names the message must contain
    (["--loss", "foo"], ["--loss", "mse", "rmse"]),
    (["--loss", ""], ["--loss"]),
    (["--optimizer", "newton"], ["--optimizer", "sgd", "adam", "rmsprop"]),
    (["--ksize", "4"], ["--ksize", "odd"]),
    (["--ksize", "1"], ["--ksize", "3"]),
    (["--ksize", "-3"], ["--ksize"]),
    (["--sigma", "0"], ["--sigma", ">= 0.001"]),
    (["--sigma", "-2"], ["--sigma", ">= 0.001"]),
    (["--lambda", "0"], ["--lambda", ">= 0.001"]),
    (["--lambda", "-10"], ["--lambda", ">= 0.001"]),
    (["--gamma", "0"], ["--gamma", ">= 0.001"]),
    (["--gamma", "nan"], ["--gamma"]),
    (["--steps", "0"], ["--steps", "1"]),
    (["--steps", "ten"], ["--steps", "integer"]),
    (["--lr", "0"], ["--lr", "> 0"]),
    (["--lr", "-0.1"], ["--lr", "> 0"]),
    (["--lr", "inf"], ["--lr"]),
    (["--momentum", "1.5"], ["--momentum"]),
    (["--betas", "0.9"], ["--betas"]),
    (["--learn", "omega"], ["--learn", "theta"]),
    (["--op", "dot"], ["--op", "correlate", "convolve"]),
    (["--boundary", "mirror"], ["--boundary", "valid", "same", "circular"]),
    (["--engine", "gpu"], ["--engine"]),
    (["--nesterov"], ["--nesterov", "momentum"]),
    (["--image", "{d}/missing.png"], ["--image", "missing.png"]),
    (["--image", "{d}/picture.bmp"], ["--image", ".png"]),
    (["--image", "{d}/garbage.png"], ["image", "garbage.png"]),
    (["--image", "{d}/garbage.jpg"], ["image", "garbage.jpg"]),
    (["--image", "{d}/garbage.npy"], ["image", "garbage.npy"]),
    (["--image", "{d}/vector.npy"], ["image"]),
    (["--image", "{d}/constant.npy"], ["image"]),
    (["--image", "{d}/tiny.npy"], ["--ksize"]),
    (["--image", "{d}/" + "a" * 300 + ".png"], ["--image"]),
    (["--config", "{d}/malformed.toml"], ["--config", "malformed.toml", "TOML"]),
    (["--config", "{d}/unknown.toml"], ["unknown.toml", "'learning_rate'"]),
    (["--config", "{d}/badvalue.toml"], ["badvalue.toml", "'sigma'", ">= 0.001"]),
    (["--config", "{d}/badangle.toml"], ["badangle.toml", "'theta0'", "angle"]),
    (["--config", "{d}/latin1.toml"], ["--config", "UTF-8"]),
    (["--config", "{d}/missing.toml"], ["--config", "missing.toml"]),
    (["--config", "{d}/adir.toml"], ["--config", "directory"]),
    (["--config", "{d}/listangle.toml"], ["'theta0'", "angle"]),
    (["--config", "{d}/hugeint.toml"], ["'sigma'"]),
    (["--config", "{d}/longint.toml"], ["--config"]),
    (["--theta0", "abc"], ["--theta0", "angle"]),
    (["--theta0", "pi/0"], ["--theta0"]),
    (["--target-theta", "45 degrees"], ["--target-theta", "45deg"]),
    (["--psi", "nan"], ["--psi"]),
    (["--foo"], ["--foo"]),
    (["--theta0"], ["--theta0"]),
    (["--size", "abc"], ["--size", "integer"]),
    (["--size", "12.5"], ["--size"]),
    (["--size", "8"], ["--size", "--ksize"]),
    (["--plot", "{d}/out.txt"], ["--plot", ".png", ".svg", ".pdf"]),
    (["--plot", "{d}/out"], ["--plot", ".png"]),
    (["--plot", "{d}/nodir/out.png"], ["--plot", "nodir"]),
    (["--plot", "{d}"], ["--plot"]),
    (["--csv", "{d}/nodir/out.csv"], ["--csv", "nodir"]),
    (["--csv", "{d}"], ["--csv", "directory"]),
]


def _expand(args, directory):
    return [a.replace("{d}", str(directory)) for a in args]


@pytest.mark.parametrize(("args", "names"), ERRORS,
                         ids=[" ".join(a)[:40].replace("{d}/", "") for a, _ in ERRORS])
def test_recover_error(capsys, inputs, args, names):
    args = _expand(args, inputs)
    outputs = []
    if "--plot" not in args:
        outputs += ["--plot", str(inputs / "out.png")]
    if "--csv" not in args:
        outputs += ["--csv", str(inputs / "out.csv")]
    base = []  # FAST, but for what the case sets (an option given twice is an error)
    for option, value in zip(FAST[::2], FAST[1::2]):
        if option not in args and not (option == "--size" and "--image" in args):
            base += [option, value]
    r = invoke("recover", "--json", *base, *outputs, *args)
    assert_usage_error(r, *names)
    assert leftovers(inputs, "out.png", "out.csv", "out.txt", "out") == []


KERNEL_ERRORS = [
    (["--ksize", "4"], ["--ksize"]),
    (["--sigma", "0"], ["--sigma"]),
    (["--theta0", "north"], ["--theta0"]),
    (["--learn", "omega"], ["--learn"]),
    (["--config", "{d}/unknown.toml"], ["'learning_rate'"]),
    (["--config", "{d}/malformed.toml"], ["--config"]),
    (["--plot", "{d}/k.bmp"], ["--plot", ".png"]),
    (["--plot", "{d}/nodir/k.png"], ["--plot"]),
    (["--json", "--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize(("args", "names"), KERNEL_ERRORS)
def test_kernel_error(capsys, inputs, args, names):
    args = _expand(args, inputs)
    outputs = [] if "--plot" in args else ["--plot", str(inputs / "k.png")]
    r = invoke("kernel", *outputs, *args)
    assert_usage_error(r, *names)
    assert leftovers(inputs, "k.png", "k.bmp") == []


@pytest.mark.parametrize(("args", "names"), [
    (["--loss", "foo"], ["--loss"]),
    (["--ksize", "2"], ["--ksize"]),
    (["--lr", "-1"], ["--lr"]),
    (["--config", "{d}/badvalue.toml"], ["'sigma'"]),
    (["--config", "{d}/missing.toml"], ["--config"]),
    (["--nope"], ["--nope"]),
])
def test_config_show_error(capsys, inputs, args, names):
    assert_usage_error(invoke("config", "show", *_expand(args, inputs)), *names)


def test_unknown_command(capsys):
    assert_usage_error(invoke("recovr"), "recovr")


# -- the installed entry point -----------------------------------------------------------------

@pytest.mark.slow
def test_installed_entry_point_json(capsys):
    command = [*entry_point(), "recover", "--json", "--steps", "20"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert data["schema"] == "gabordiag.recover/1"
    assert len(data["loss"]) == 21
    assert data["params"]["theta"][0] == -0.785
    # the same bytes as the in-process call
    assert invoke("recover", "--json", "--steps", "20").out == proc.stdout


@pytest.mark.slow
def test_installed_entry_point_error_exit_code(tmp_path):
    plot = tmp_path / "x.png"
    command = [*entry_point(), "recover", "--loss", "foo", "--plot", str(plot)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(ERROR_PREFIX)
    assert proc.stderr.count("\n") == 1
    assert "--loss" in proc.stderr
    assert not plot.exists()


def test_an_unknown_command_names_the_tool_once(capsys):
    r = invoke("recoverr")
    assert r.code == 2
    assert r.err == "gabordiag: error: No such command 'recoverr'. Did you mean 'recover'?\n"
    r = invoke("config", "shw")
    assert r.err.startswith("gabordiag: error: gabordiag config: No such command 'shw'")


@pytest.mark.parametrize("command", ["recover", "landscape"])
def test_paths_with_brackets_are_shown_as_given(tmp_path, monkeypatch, command):
    """rich read "[x]" in a path as markup and dropped it from the text output."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run[x]"
    folder.mkdir()
    np.save(folder / "a.npy", np.random.default_rng(0).random((40, 40)))
    (folder / "ker.py").write_text(
        "from gabordiag import gabor_kernel\n\n"
        "def k(ksize, sigma, theta, lambd, gamma, psi):\n"
        "    return gabor_kernel(ksize, sigma=sigma, theta=theta, lambd=lambd, gamma=gamma,\n"
        "                        psi=psi)\n")
    extra = ["--steps", "5"] if command == "recover" else []
    r = invoke(command, "--image", "run[x]/a.npy", "--kernel", "run[x]/ker.py:k",
               "--ksize", "9", *extra)
    assert r.code == 0, r.err
    text = " ".join(r.out.split())
    assert "run[x]/ker.py:k" in text, r.out
    if command == "recover":
        assert "run[x]/a.npy" in text, r.out
