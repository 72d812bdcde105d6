"""The experiment config: angle parsing, TOML files, command-line overrides, validation.

Expected values come from the issue and from math/tomllib, not from the code under test:
an angle is compared with ``math``, a file's values with what the test wrote, an error
with the option name and the allowed values the issue asks for.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gabordiag.config import Config, config_to_toml, load_config, parse_angle, resolve_config
from gabordiag.config import model as experiment
from gabordiag.config.files import with_absolute_paths
from gabordiag.config.values import MAX_ANGLE
from gabordiag.errors import ConfigError, GabordiagError

PARAMS = ("theta", "lambda", "sigma", "gamma", "psi")
LOSSES = ("mse", "rmse", "rmse-eps", "l1", "huber")
OPTIMIZERS = ("sgd", "rmsprop", "adam")
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- parse_angle ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("0.785", 0.785),
    ("-0.785", -0.785),
    ("1.2rad", 1.2),
    ("pi", math.pi),
    ("-pi", -math.pi),
    ("pi/4", math.pi / 4),
    ("-pi/4", -math.pi / 4),
    ("+pi/4", math.pi / 4),
    ("3*pi/4", 3 * math.pi / 4),
    ("3 * pi / 4", 3 * math.pi / 4),
    ("2pi", 2 * math.pi),
    ("-0.5pi", -0.5 * math.pi),
    ("PI/2", math.pi / 2),
    ("  pi/3  ", math.pi / 3),
    ("45deg", math.radians(45)),
    ("-90deg", math.radians(-90)),
    ("45°", math.radians(45)),
    ("1e-3", 1e-3),
    (".5", 0.5),
    (0, 0.0),
    (1, 1.0),
    (-0.3, -0.3),
    (np.float64(0.25), 0.25),
])
def test_parse_angle_matches_math(text, expected):
    value = parse_angle(text)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_parse_angle_forms_agree():
    assert parse_angle("90deg") == pytest.approx(parse_angle("pi/2"), rel=1e-15)
    assert parse_angle("-45deg") == pytest.approx(parse_angle("-pi/4"), rel=1e-15)
    assert parse_angle("180deg") == pytest.approx(parse_angle("pi"), rel=1e-15)


@pytest.mark.parametrize("bad", [
    "", "   ", "abc", "pi/0", "pi/0.0", "3*pi/0", "nan", "NaN", "inf", "-inf", "infinity",
    "1e400", "1e400deg", "pi pi", "4/pi", "pi/4/2", "45 degrees", "deg", "--pi", "1,5",
    "0x10", "pi*", True, False, math.nan, math.inf, -math.inf,
])
def test_parse_angle_rejects(bad):
    with pytest.raises(ValueError, match="angle"):
        parse_angle(bad)


@pytest.mark.parametrize("bad", [[1.0], {"a": 1}, dt.date(2020, 1, 1), None])
def test_parse_angle_rejects_non_text_values_with_value_error(bad):
    # TOML gives lists, tables and dates; they must be a ValueError like any bad text,
    # not an AttributeError from calling str methods on them.
    with pytest.raises(ValueError, match="angle"):
        parse_angle(bad)


def test_parse_angle_rejects_ints_too_large_for_float():
    with pytest.raises(ValueError, match="angle"):
        parse_angle(10**400)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@SETTINGS
@given(x=finite)
def test_parse_angle_radians_round_trip(x):
    assert parse_angle(repr(x)) == x
    assert parse_angle(f"{x!r}rad") == x


@SETTINGS
@given(d=finite)
def test_parse_angle_degrees(d):
    assert parse_angle(f"{d!r}deg") == pytest.approx(math.radians(d), rel=1e-15, abs=1e-300)


@SETTINGS
@given(a=st.floats(min_value=0, max_value=1e3, allow_nan=False),
       b=st.floats(min_value=1e-3, max_value=1e3, allow_nan=False),
       negative=st.booleans())
def test_parse_angle_multiples_of_pi(a, b, negative):
    sign = "-" if negative else ""
    expected = (-1 if negative else 1) * a * math.pi / b
    if abs(expected) > MAX_ANGLE:  # refused: float64 cannot resolve such an angle
        with pytest.raises(ValueError, match="at most 1e\\+06 rad"):
            parse_angle(f"{sign}{a!r}*pi/{b!r}")
        return
    assert parse_angle(f"{sign}{a!r}*pi/{b!r}") == pytest.approx(expected, rel=1e-14, abs=1e-300)
    assert parse_angle(f"{sign}{a!r}pi/{b!r}") == pytest.approx(expected, rel=1e-14, abs=1e-300)


# -- defaults and precedence ------------------------------------------------------------

def test_defaults_are_the_reference_case():
    """DESIGN.md's reference case: 128x128 1/f noise, 21x21 kernel, sigma 4, lambda 10,
    gamma 0.5, psi 0, target pi/4, start -0.785 (the reported -pi/4), RMSE, plain SGD,
    theta learned."""
    config, source = resolve_config()
    assert config == Config()
    assert source.path is None
    assert (config.image, config.size, config.ksize) == ("pink", 128, 21)
    assert (config.sigma, config.lambd, config.gamma, config.psi) == (4.0, 10.0, 0.5, 0.0)
    assert config.target_theta == pytest.approx(math.pi / 4)
    assert config.theta0 == -0.785
    assert config.learn == ("theta",)
    assert (config.loss, config.optimizer) == ("rmse", "sgd")
    # torch.optim defaults for the optimizer's other hyper-parameters
    assert (config.momentum, config.dampening, config.nesterov) == (0.0, 0.0, False)
    assert config.betas == (0.9, 0.999)
    assert (config.alpha, config.eps) == (0.99, 1e-8)
    assert (config.op, config.boundary, config.standardize) == ("correlate", "valid", True)
    assert config.start.theta == config.theta0
    assert config.target.theta == config.target_theta


def test_none_overrides_mean_not_given():
    config, _ = resolve_config({key: None for key in experiment.KEYS})
    assert config == Config()


def test_cli_overrides_beat_the_file_which_beats_defaults(tmp_path):
    path = write(tmp_path, 'sigma = 3.0\nlr = 0.01\nloss = "mse"\ntheta0 = "pi/8"\n')
    config, source = resolve_config({"sigma": "2.5", "theta0": "-30deg", "gamma": None},
                                    path)
    assert source.path == path
    assert config.sigma == 2.5                      # command line over file
    assert config.theta0 == pytest.approx(math.radians(-30))
    assert config.lr == 0.01                        # file over default
    assert config.loss == "mse"
    assert config.gamma == Config().gamma           # default
    assert config.ksize == Config().ksize


# -- every key from a file ----------------------------------------------------------------

def test_every_key_from_a_file(tmp_path):
    image = tmp_path / "img.npy"
    np.save(image, np.random.default_rng(0).standard_normal((40, 40)))
    values = {
        "image": f'"{image}"',
        "size": "64",
        "seed": "7",
        "ksize": "15",
        "sigma": "3.5",
        "lambda": "8.0",
        "gamma": "0.75",
        "psi": '"pi/2"',
        "target-theta": '"pi/3"',
        "theta0": "-0.5",
        "lambda0": "9.0",
        "sigma0": "2.0",
        "gamma0": "0.6",
        "psi0": "0.25",
        "learn": '["psi", "gamma", "theta"]',
        "loss": '"rmse-eps"',
        "loss-eps": "0.5",
        "optimizer": '"rmsprop"',
        "lr": "0.02",
        "momentum": "0.5",
        "dampening": "0.1",
        "nesterov": "false",
        "betas": "[0.8, 0.99]",
        "alpha": "0.9",
        "eps": "1e-6",
        "steps": "42",
        "op": '"convolve"',
        "boundary": '"circular"',
        "standardize": "false",
        "engine": '"direct"',
        "kernel": '"mypkg.kernels:make_kernel"',
        "derivative": '"tools/d.py:d_theta"',
    }
    assert set(values) == set(experiment.KEYS), "the test must cover every config key"
    path = write(tmp_path, "".join(f"{k} = {v}\n" for k, v in values.items()))
    with pytest.raises(ConfigError, match="--allow-code"):  # a file naming code (issue 15)
        resolve_config(config_path=path)
    config, _ = resolve_config(config_path=path, allow_code=True)
    assert config.image == str(image)
    assert (config.size, config.seed, config.ksize) == (64, 7, 15)
    assert (config.sigma, config.lambd, config.gamma) == (3.5, 8.0, 0.75)
    assert config.psi == pytest.approx(math.pi / 2)
    assert config.target_theta == pytest.approx(math.pi / 3)
    assert config.theta0 == -0.5
    assert (config.lambda0, config.sigma0, config.gamma0, config.psi0) == (9.0, 2.0, 0.6, 0.25)
    assert config.learn == ("theta", "gamma", "psi")  # canonical order
    assert (config.loss, config.loss_eps) == ("rmse-eps", 0.5)
    assert (config.optimizer, config.lr, config.momentum) == ("rmsprop", 0.02, 0.5)
    assert (config.dampening, config.nesterov) == (0.1, False)
    assert config.betas == (0.8, 0.99)
    assert (config.alpha, config.eps, config.steps) == (0.9, 1e-6, 42)
    assert (config.op, config.boundary, config.standardize, config.engine) == (
        "convolve", "circular", False, "direct")
    assert config.kernel == "mypkg.kernels:make_kernel"
    # a file path in a config file is relative to the file's folder (issue 15)
    assert config.derivative == f"{path.parent / 'tools' / 'd.py'}:d_theta"
    # the learned parameters start from their *0 values, the others from the target's
    start = config.start
    assert (start.theta, start.gamma, start.psi) == (-0.5, 0.6, 0.25)
    assert (start.lambd, start.sigma) == (8.0, 3.5)


@pytest.mark.parametrize(("key", "literal", "expected"), [
    ("theta0", '"pi/4"', math.pi / 4),
    ("theta0", '"-pi/4"', -math.pi / 4),
    ("theta0", '"45deg"', math.pi / 4),
    ("theta0", "0.785", 0.785),
    ("theta0", "-1", -1.0),
    ("target-theta", '"3*pi/4"', 3 * math.pi / 4),
    ("target_theta", '"-90deg"', -math.pi / 2),
    ("target_theta", "0.5", 0.5),
])
def test_angles_in_files_as_strings_or_numbers(tmp_path, key, literal, expected):
    config, _ = resolve_config(config_path=write(tmp_path, f"{key} = {literal}\n"))
    field = "target_theta" if key.startswith("target") else key
    assert getattr(config, field) == pytest.approx(expected, rel=1e-15)


def test_lambda_key_and_inf_wavelength(tmp_path):
    config, _ = resolve_config(config_path=write(tmp_path, "lambda = 7.5\n"))
    assert config.lambd == 7.5
    config, _ = resolve_config(config_path=write(tmp_path, "lambda = inf\n"))
    assert config.lambd == math.inf  # no carrier: a Gaussian blob


@pytest.mark.parametrize(("value", "expected"), [
    ('["theta"]', ("theta",)),
    ('["sigma", "theta"]', ("theta", "sigma")),
    ('"psi,theta"', ("theta", "psi")),
    ('" lambda , theta "', ("theta", "lambda")),
    ('"PSI,Sigma,gamma,lambda,theta"', PARAMS),
    ('["gamma,sigma", "theta"]', ("theta", "sigma", "gamma")),
])
def test_learn_list_or_comma_string_in_canonical_order(tmp_path, value, expected):
    config, _ = resolve_config(config_path=write(tmp_path, f"learn = {value}\n"))
    assert config.learn == expected
    override = tomllib.loads(f"v = {value}")["v"]
    assert resolve_config({"learn": override})[0].learn == expected


def test_expect_table_is_kept_for_the_commands_that_read_it(tmp_path):
    path = write(tmp_path, 'loss = "mse"\n[expect]\nverdict = "converged"\n')
    config, source = resolve_config(config_path=path)
    assert config.loss == "mse"
    assert source.sections == {"expect": {"verdict": "converged"}}


def test_empty_file_gives_the_defaults(tmp_path):
    assert resolve_config(config_path=write(tmp_path, ""))[0] == Config()
    assert resolve_config(config_path=write(tmp_path, "# only a comment\n\n"))[0] == Config()


# -- the learning-rate default rule and nesterov -------------------------------------------

@pytest.mark.parametrize(("optimizer", "lr"), [("adam", 1e-3), ("rmsprop", 1e-2),
                                               ("sgd", Config().lr)])
def test_lr_defaults_to_torch_default_of_the_chosen_optimizer(tmp_path, optimizer, lr):
    assert resolve_config({"optimizer": optimizer})[0].lr == lr
    path = write(tmp_path, f'optimizer = "{optimizer}"\n')
    assert resolve_config(config_path=path)[0].lr == lr


def test_an_explicit_lr_always_wins(tmp_path):
    assert resolve_config({"optimizer": "adam", "lr": "0.5"})[0].lr == 0.5
    path = write(tmp_path, 'optimizer = "adam"\nlr = 0.05\n')
    assert resolve_config(config_path=path)[0].lr == 0.05
    # an lr in the file is explicit: switching the optimizer on the command line keeps it
    path = write(tmp_path, "lr = 0.05\n")
    assert resolve_config({"optimizer": "rmsprop"}, path)[0].lr == 0.05
    path = write(tmp_path, 'optimizer = "adam"\n')
    assert resolve_config({"lr": "0.2"}, path)[0].lr == 0.2


def test_nesterov_needs_sgd_momentum_and_no_dampening():
    ok, _ = resolve_config({"nesterov": True, "momentum": "0.9"})
    assert ok.nesterov
    assert ok.optimizer_settings.nesterov
    for overrides in ({"nesterov": True},
                      {"nesterov": True, "momentum": "0.9", "dampening": "0.1"},
                      {"nesterov": True, "momentum": "0.9", "optimizer": "rmsprop"},
                      {"nesterov": "true", "momentum": "0.9", "optimizer": "adam"}):
        with pytest.raises(ConfigError, match="--nesterov") as info:
            resolve_config(overrides)
        assert "momentum" in str(info.value)
        assert "sgd" in str(info.value)


def test_nesterov_checked_for_files_too(tmp_path):
    path = write(tmp_path, "nesterov = true\n")
    with pytest.raises(ConfigError, match="nesterov"):
        resolve_config(config_path=path)
    path = write(tmp_path, "nesterov = true\nmomentum = 0.9\n")
    assert resolve_config(config_path=path)[0].nesterov is True


def test_synthetic_image_smaller_than_the_kernel_is_an_error():
    with pytest.raises(ConfigError, match="--size"):
        resolve_config({"size": "15", "ksize": "21"})
    # zero padding makes any size work
    assert resolve_config({"size": "15", "ksize": "21", "boundary": "same"})[0].size == 15


# -- invalid values: ConfigError naming the key and what is allowed -------------------------

POSITIVE = ["> 0"]
KERNEL_RANGE = [">= 0.001"]  # sigma, lambda, gamma: a range where the kernel is finite
ANGLE = ["angle"]
INVALID = [
    # key, TOML literal, fragments the message must contain (the allowed values)
    ("image", '"nope.png"', ["pink", "white", "grating", ".npy", ".png"]),
    ("image", '"picture.bmp"', ["pink", "white", "grating", ".png"]),
    ("image", '""', ["pink", "white", "grating"]),
    ("image", "3", ["pink", "white", "grating"]),
    ("size", "0", ["integer", "1", "4096"]),
    ("size", "-5", ["integer"]),
    ("size", "5000", ["integer", "4096"]),
    ("size", "64.5", ["integer"]),
    ("size", '"big"', ["integer"]),
    ("size", "true", ["integer"]),
    ("size", "[64]", ["integer"]),
    ("seed", "-1", ["integer"]),
    ("seed", "1.5", ["integer"]),
    ("seed", "false", ["integer"]),
    ("ksize", "4", ["odd", "3"]),
    ("ksize", "2", ["odd", "3"]),
    ("ksize", "1", ["odd", "3"]),
    ("ksize", "0", ["odd", "3"]),
    ("ksize", "-3", ["odd", "3"]),
    ("ksize", "21.5", ["odd"]),
    ("ksize", '"x"', ["odd"]),
    ("ksize", "true", ["odd"]),
    ("sigma", "0", KERNEL_RANGE),
    ("sigma", "0.0", KERNEL_RANGE),
    ("sigma", "-1.0", KERNEL_RANGE),
    ("sigma", "nan", KERNEL_RANGE),
    ("sigma", "inf", KERNEL_RANGE),
    ("sigma", '"wide"', KERNEL_RANGE),
    ("sigma", "[4.0]", KERNEL_RANGE),
    ("sigma", "true", KERNEL_RANGE),
    ("sigma", "{ a = 1 }", KERNEL_RANGE),
    ("lambda", "0", KERNEL_RANGE),
    ("lambda", "-10", KERNEL_RANGE),
    ("lambda", "nan", KERNEL_RANGE),
    ("lambda", "-inf", KERNEL_RANGE),
    ("lambda", "false", KERNEL_RANGE),
    ("gamma", "0", KERNEL_RANGE),
    ("gamma", "-0.5", KERNEL_RANGE),
    ("gamma", "nan", KERNEL_RANGE),
    ("gamma", "inf", KERNEL_RANGE),
    ("gamma", "true", KERNEL_RANGE),
    ("psi", '"abc"', ANGLE),
    ("psi", "nan", ANGLE),
    ("psi", "inf", ANGLE),
    ("psi", "true", ANGLE),
    ("target-theta", '"pi/0"', ANGLE),
    ("target-theta", '"45 degrees"', ANGLE),
    ("target-theta", "-inf", ANGLE),
    ("theta0", '"-pi/4x"', ANGLE),
    ("theta0", "nan", ANGLE),
    ("theta0", "false", ANGLE),
    ("theta0", '"nan"', ANGLE),
    ("lambda0", "0", KERNEL_RANGE),
    ("lambda0", "nan", KERNEL_RANGE),
    ("sigma0", "-1", KERNEL_RANGE),
    ("sigma0", "inf", KERNEL_RANGE),
    ("gamma0", "0", KERNEL_RANGE),
    ("psi0", '"x"', ANGLE),
    ("learn", "[]", list(PARAMS)),
    ("learn", '""', list(PARAMS)),
    ("learn", '"foo"', list(PARAMS)),
    ("learn", '"theta,"', list(PARAMS)),
    ("learn", '["theta", "theta"]', list(PARAMS)),
    ("learn", '"theta,Theta"', list(PARAMS)),
    ("learn", "[1]", list(PARAMS)),
    ("learn", "3", list(PARAMS)),
    ("learn", "[[\"theta\"]]", list(PARAMS)),
    ("loss", '"foo"', list(LOSSES)),
    ("loss", '"MAE"', list(LOSSES)),
    ("loss", "1", list(LOSSES)),
    ("loss", "true", list(LOSSES)),
    ("loss-eps", "0", POSITIVE),
    ("loss-eps", "nan", POSITIVE),
    ("optimizer", '"newton"', list(OPTIMIZERS)),
    ("optimizer", "3", list(OPTIMIZERS)),
    ("optimizer", '["sgd"]', list(OPTIMIZERS)),
    ("lr", "0", POSITIVE),
    ("lr", "-1e-3", POSITIVE),
    ("lr", "nan", POSITIVE),
    ("lr", "inf", POSITIVE),
    ("lr", '"fast"', POSITIVE),
    ("lr", "[0.1]", POSITIVE),
    ("lr", "true", POSITIVE),
    ("momentum", "-0.1", [">= 0", "< 1"]),
    ("momentum", "1.0", [">= 0", "< 1"]),
    ("momentum", "nan", [">= 0", "< 1"]),
    ("dampening", "-0.1", [">= 0", "<= 1"]),
    ("dampening", "1.5", [">= 0", "<= 1"]),
    ("nesterov", '"maybe"', ["true", "false"]),
    ("nesterov", "2", ["true", "false"]),
    ("nesterov", "0.5", ["true", "false"]),
    ("betas", "[0.9]", ["two numbers", "[0, 1)"]),
    ("betas", "[1.0, 0.9]", ["two numbers", "[0, 1)"]),
    ("betas", "[0.9, 0.999, 0.5]", ["two numbers"]),
    ("betas", '"a,b"', ["two numbers"]),
    ("betas", "0.9", ["two numbers"]),
    ("betas", "[0.9, nan]", ["two numbers"]),
    ("alpha", "1.0", [">= 0", "< 1"]),
    ("alpha", "-0.1", [">= 0"]),
    ("eps", "0", POSITIVE),
    ("eps", "-1e-8", POSITIVE),
    ("steps", "0", ["integer", "1", "1000000"]),
    ("steps", "-5", ["integer", "1"]),
    ("steps", "2000000", ["integer", "1000000"]),
    ("steps", "1.5", ["integer"]),
    ("steps", '"many"', ["integer"]),
    ("steps", "true", ["integer"]),
    ("op", '"conv"', ["correlate", "convolve"]),
    ("op", "1", ["correlate", "convolve"]),
    ("boundary", '"reflect"', ["valid", "same", "circular"]),
    ("standardize", '"maybe"', ["true", "false"]),
    ("standardize", "3", ["true", "false"]),
    ("engine", '"gpu"', ["auto", "direct", "quadratic", "spectral"]),
    ("kernel", '"nocolon"', ["module:function", "file.py:function"]),
    ("kernel", '":make"', ["module:function"]),
    ("kernel", '"mod:"', ["module:function"]),
    ("kernel", '"mod:1st"', ["module:function"]),
    ("kernel", "3", ["module:function"]),
    ("derivative", '"mod.py"', ["module:function", "file.py:function"]),
    ("derivative", '["mod:f"]', ["module:function"]),
]


def test_the_invalid_table_covers_every_key():
    assert {key for key, _, _ in INVALID} == set(experiment.KEYS)


@pytest.mark.parametrize(("key", "literal", "fragments"), INVALID)
def test_invalid_value_in_a_file(tmp_path, key, literal, fragments):
    path = write(tmp_path, f"{key} = {literal}\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(config_path=path)
    message = str(info.value)
    assert f"'{key}'" in message, message  # names the key as written in the file
    assert str(path) in message, message   # and the file
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "\n" not in message


@pytest.mark.parametrize(("key", "literal", "fragments"), INVALID)
def test_invalid_value_on_the_command_line(key, literal, fragments):
    value = tomllib.loads(f"v = {literal}")["v"]
    with pytest.raises(ConfigError) as info:
        resolve_config({key: value})
    message = str(info.value)
    assert message.startswith(f"--{key}:"), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(("key", "text"), [
    ("sigma", "abc"), ("sigma", "-1"), ("sigma", "nan"), ("lambda", "0"), ("gamma", "-inf"),
    ("ksize", "4"), ("ksize", "4.0"), ("ksize", " "), ("size", "12x"), ("steps", "1e3"),
    ("lr", ""), ("lr", "1e-3x"), ("theta0", "abc"), ("loss", "foo"), ("learn", "theta,foo"),
    ("betas", "0.9"), ("betas", "0.9;0.99"), ("nesterov", "perhaps"),
])
def test_invalid_command_line_text(key, text):
    with pytest.raises(ConfigError, match=f"^--{key}: invalid value"):
        resolve_config({key: text})


def test_command_line_text_forms_are_parsed():
    config, _ = resolve_config({"ksize": " 9 ", "sigma": "2", "lr": "3e-4", "steps": "+10",
                                "betas": "0.8, 0.9", "nesterov": "yes", "momentum": "0.5",
                                "standardize": "false", "loss": "MSE", "learn": "theta"})
    assert (config.ksize, config.sigma, config.lr, config.steps) == (9, 2.0, 3e-4, 10)
    assert config.betas == (0.8, 0.9)
    assert config.nesterov is True
    assert config.standardize is False
    assert config.loss == "mse"


@pytest.mark.parametrize("key", ["steps", "size", "seed", "ksize"])
def test_absurdly_long_integer_text_names_the_allowed_range(key):
    with pytest.raises(ConfigError, match=f"^--{key}: ") as info:
        resolve_config({key: "9" * 5000})
    assert "integer from" in str(info.value)


def test_ints_too_large_for_a_float_are_config_errors(tmp_path):
    huge = "1" + "0" * 400  # tomllib reads this as a Python int
    for key in ("sigma", "lr", "theta0", "psi"):
        with pytest.raises(ConfigError, match=key):
            resolve_config(config_path=write(tmp_path, f"{key} = {huge}\n"))
        with pytest.raises(ConfigError, match=f"--{key}"):
            resolve_config({key: 10**400})


@pytest.mark.parametrize("literal", ["[1.0]", '["pi/4"]', "{ a = 1 }", "1979-05-27",
                                     "07:32:00", "1979-05-27T07:32:00Z"])
@pytest.mark.parametrize("key", ["theta0", "target-theta", "psi", "psi0"])
def test_angle_keys_reject_other_toml_types(tmp_path, key, literal):
    with pytest.raises(ConfigError, match=f"'{key}'") as info:
        resolve_config(config_path=write(tmp_path, f"{key} = {literal}\n"))
    assert "angle" in str(info.value)


def test_image_path_too_long_for_the_file_system_is_a_config_error():
    with pytest.raises(ConfigError, match="--image"):
        resolve_config({"image": "a" * 300 + ".png"})


def test_an_existing_image_file_is_accepted(tmp_path):
    image = tmp_path / "img.npy"
    np.save(image, np.zeros((8, 8)))
    assert resolve_config({"image": str(image)})[0].image == str(image)
    assert resolve_config({"image": " WHITE "})[0].image == "white"


# -- the file itself --------------------------------------------------------------------------

def test_unknown_key_is_named(tmp_path):
    path = write(tmp_path, 'loss = "mse"\nlearning_rate = 0.1\n')
    with pytest.raises(ConfigError) as info:
        resolve_config(config_path=path)
    message = str(info.value)
    assert "'learning_rate'" in message
    assert "lr" in message
    assert "theta0" in message


@pytest.mark.parametrize("text", ["lambd = 10\n", "theta = 1\n", "[foo]\na = 1\n",
                                  "[sigma]\nx = 1\n", "Loss = 'mse'\n"])
def test_other_unknown_keys(tmp_path, text):
    with pytest.raises(ConfigError, match="key"):
        resolve_config(config_path=write(tmp_path, text))


def test_unknown_override_is_named():
    with pytest.raises(ConfigError, match="--learning-rate"):
        resolve_config({"learning-rate": "0.1"})


def test_expect_must_be_a_table(tmp_path):
    with pytest.raises(ConfigError, match=r"\[expect\]"):
        resolve_config(config_path=write(tmp_path, "expect = 3\n"))


@pytest.mark.parametrize("text", ["sigma = \n", "sigma = 4\nsigma = 5\n", "loss = mse\n",
                                  "[expect\n", "a b = 1\n", "x = " + "9" * 5000 + "\n"])
def test_malformed_toml(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve_config(config_path=path)
    message = str(info.value)
    assert "--config" in message
    assert str(path) in message
    assert "TOML" in message


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('image = "bild-\u00e4.npy"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8") as info:
        resolve_config(config_path=path)
    assert "--config" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="--config") as info:
        resolve_config(config_path=tmp_path / "missing.toml")
    assert "does not exist" in str(info.value)


def test_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="--config") as info:
        resolve_config(config_path=tmp_path)
    assert "directory" in str(info.value)


def test_config_error_is_a_package_error_with_exit_code_2():
    with pytest.raises(GabordiagError) as info:
        resolve_config({"loss": "foo"})
    assert info.value.exit_code == 2
    assert isinstance(info.value, ValueError)


# -- config_to_toml round trip ----------------------------------------------------------------

positive = st.floats(min_value=0, max_value=1e300, exclude_min=True, allow_nan=False)
sigmas = st.floats(min_value=1e-3, max_value=1e4)       # the accepted kernel ranges
lambdas = st.floats(min_value=1e-3, max_value=1e6) | st.just(math.inf)
gammas = st.floats(min_value=1e-3, max_value=1e3)
unit_open = st.floats(min_value=0, max_value=1, exclude_max=True, allow_nan=False)
angle = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


callable_spec = st.builds(
    "{}:{}".format,
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
    .map(str.strip).filter(bool),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True))


@st.composite
def valid_overrides(draw):
    ksize = 2 * draw(st.integers(1, 127)) + 1
    values = {
        "image": draw(st.sampled_from(["pink", "white", "grating"])),
        "size": draw(st.integers(ksize, 4096)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "ksize": ksize,
        "sigma": draw(sigmas),
        "lambda": draw(lambdas),
        "gamma": draw(gammas),
        "psi": draw(angle),
        "target-theta": draw(angle),
        "theta0": draw(angle),
        "lambda0": draw(st.none() | lambdas),
        "sigma0": draw(st.none() | sigmas),
        "gamma0": draw(st.none() | gammas),
        "psi0": draw(st.none() | angle),
        "learn": draw(st.lists(st.sampled_from(PARAMS), min_size=1, unique=True)),
        "loss": draw(st.sampled_from(LOSSES)),
        "loss-eps": draw(positive),
        "optimizer": draw(st.sampled_from(OPTIMIZERS)),
        "lr": draw(positive),
        "momentum": draw(unit_open),
        "dampening": draw(st.floats(0, 1)),
        "nesterov": False,
        "betas": draw(st.tuples(unit_open, unit_open)),
        "alpha": draw(unit_open),
        "eps": draw(positive),
        "steps": draw(st.integers(1, 1_000_000)),
        "op": draw(st.sampled_from(["correlate", "convolve"])),
        "boundary": draw(st.sampled_from(["valid", "same", "circular"])),
        "standardize": draw(st.booleans()),
        "engine": draw(st.sampled_from(["auto", "direct", "quadratic", "spectral"])),
        "kernel": draw(st.none() | callable_spec),
        "derivative": draw(st.none() | callable_spec),
    }
    if draw(st.booleans()):
        values.update(nesterov=True, optimizer="sgd", dampening=0.0,
                      momentum=draw(st.floats(1e-6, 0.999)))
    return values


@pytest.mark.slow
@SETTINGS
@given(overrides=valid_overrides())
def test_config_to_toml_round_trips(tmp_path_factory, overrides):
    assert set(overrides) == set(experiment.KEYS)
    config, _ = resolve_config(overrides)
    config = with_absolute_paths(config)  # what a file elsewhere must hold (issue 15)
    text = config_to_toml(config)
    # plain TOML that says what the config says
    assert tomllib.loads(text) == config.to_dict()
    path = tmp_path_factory.mktemp("rt") / "config.toml"
    path.write_text(text, encoding="utf-8")
    values, _ = load_config(path)
    assert set(values) == set(config.to_dict())
    again, _ = resolve_config(config_path=path, allow_code=True)
    assert again == config
    assert config_to_toml(again) == text


def test_config_to_toml_of_the_defaults(tmp_path):
    text = config_to_toml(Config())
    parsed = tomllib.loads(text)
    assert parsed["theta0"] == -0.785
    assert parsed["target-theta"] == math.pi / 4
    assert parsed["lambda"] == 10.0
    assert parsed["learn"] == ["theta"]
    path = write(tmp_path, text)
    assert resolve_config(config_path=path)[0] == Config()


@pytest.mark.parametrize("spec", ['a"b:f', "a\\b:f", "tab\there:f", "new\nline:f",
                                  "del\x7f:f", "nul\x00:f", "\u00e9t\u00e9:f", "\U0001F600:f"])
def test_config_to_toml_escapes_strings(tmp_path, spec):
    config, _ = resolve_config({"kernel": spec})
    assert config.kernel == spec
    config = with_absolute_paths(config)
    text = config_to_toml(config)
    assert tomllib.loads(text)["kernel"] == spec
    assert resolve_config(config_path=write(tmp_path, text), allow_code=True)[0] == config


def test_config_to_toml_with_an_image_path(tmp_path):
    image = tmp_path / 'we"ird\\dir'
    image.mkdir()
    image = image / "img.npy"
    np.save(image, np.zeros((30, 30)))
    config, _ = resolve_config({"image": str(image)})
    path = write(tmp_path, config_to_toml(config))
    assert resolve_config(config_path=path)[0] == config


# -- junk never escapes as anything but ConfigError ------------------------------------------

scalar_junk = st.one_of(
    st.text(max_size=30),
    st.floats(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**420),
    st.booleans(),
    st.dates(),
    st.times(),
    st.sampled_from(["nan", "-inf", "inf", "1e400", "pi/0", "1_000", "0x10", " ", "9" * 5000,
                     "a" * 300 + ".png", "\x00.png", "3*pi/4", "45deg", "theta,psi", "0.5",
                     "21", "true", "..", "/", "/dev/null.npy", "1e-320"]),
)
junk = st.one_of(
    scalar_junk,
    st.lists(scalar_junk, max_size=4),
    st.dictionaries(st.text(max_size=5), scalar_junk, max_size=2),
)


@pytest.mark.slow
@pytest.mark.parametrize("key", experiment.KEYS)
@settings(max_examples=50, deadline=None)
@given(value=junk)
def test_junk_gives_a_config_or_a_config_error(key, value):
    try:
        config, _ = resolve_config({key: value})
    except ConfigError as exc:
        message = str(exc)
    else:
        assert isinstance(config, Config)
        return
    assert f"--{key}" in message
