"""The experiment configuration: defaults, TOML files, command-line overrides, validation.

Config keys use the command-line names without the leading dashes (``lambda``,
``theta0``, ``target-theta``; ``target_theta`` is accepted too). Every value is
validated where it enters, and errors name the option or key and what is allowed.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .engines import ENGINES
from .errors import ConfigError
from .images import FILE_SUFFIXES, SYNTHETIC
from .kernel import PARAM_NAMES, GaborParams
from .losses import LOSSES
from .objective import BOUNDARIES, OPS
from .optim import DEFAULT_LR, OPTIMIZERS, OptimizerSettings

__all__ = ["ENGINES", "SECTIONS", "Config", "ConfigSource", "config_to_toml", "load_config",
           "parse_angle", "parse_option", "resolve_config"]

# Tables a config file may hold besides the experiment keys; their content belongs to
# the commands that read them (e.g. ``check`` reads ``[expect]``).
SECTIONS = ("expect",)
MAX_SIZE = 4096
MAX_STEPS = 1_000_000


@dataclass(frozen=True)
class Config:
    """A fully resolved experiment. Field names are the keys with ``-`` -> ``_``
    (``lambd`` for ``lambda``)."""

    image: str = "pink"
    size: int = 128
    seed: int = 5
    ksize: int = 21
    sigma: float = 4.0
    lambd: float = 10.0
    gamma: float = 0.5
    psi: float = 0.0
    target_theta: float = math.pi / 4
    theta0: float = -math.pi / 4
    lambda0: float | None = None
    sigma0: float | None = None
    gamma0: float | None = None
    psi0: float | None = None
    learn: tuple[str, ...] = ("theta",)
    loss: str = "rmse"
    loss_eps: float = 1.0
    optimizer: str = "sgd"
    lr: float = 3e-3
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    alpha: float = 0.99
    eps: float = 1e-8
    steps: int = 300
    op: str = "correlate"
    boundary: str = "valid"
    standardize: bool = True
    engine: str = "auto"
    kernel: str | None = None
    derivative: str | None = None

    @property
    def target(self) -> GaborParams:
        """The target kernel's parameters."""
        return GaborParams(theta=self.target_theta, lambd=self.lambd, sigma=self.sigma,
                           gamma=self.gamma, psi=self.psi)

    @property
    def start(self) -> GaborParams:
        """The learnable kernel's start: the target's values, except that each learned
        parameter starts from its ``*0`` value (``theta0``; ``sigma0`` ... default to
        the target's value)."""
        starts = {"theta": self.theta0, "lambda": self.lambda0, "sigma": self.sigma0,
                  "gamma": self.gamma0, "psi": self.psi0}
        chosen = {name: value for name, value in starts.items()
                  if name in self.learn and value is not None}
        return self.target.replace(**chosen)

    @property
    def optimizer_settings(self) -> OptimizerSettings:
        """The optimizer name and hyper-parameters."""
        return OptimizerSettings(name=self.optimizer, lr=self.lr, momentum=self.momentum,
                                 dampening=self.dampening, nesterov=self.nesterov,
                                 betas=self.betas, alpha=self.alpha, eps=self.eps)

    def to_dict(self) -> dict[str, Any]:
        """Plain values keyed by config key (``lambda``, ``target-theta``, ...); unset
        optional values are left out."""
        raw = asdict(self)
        return {_key(name): list(v) if isinstance(v, tuple) else v
                for name, v in raw.items() if v is not None}


def _key(field_name: str) -> str:
    return "lambda" if field_name == "lambd" else field_name.replace("_", "-")


def _field(key: str) -> str:
    return "lambd" if key == "lambda" else key.replace("-", "_")


KEYS: tuple[str, ...] = tuple(_key(f.name) for f in fields(Config))


# -- value parsers: raise ValueError("what is allowed") ----------------------------------

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PI_FORM = re.compile(
    rf"^(?P<sign>[-+]?)(?P<num>{_NUMBER})?\s*\*?\s*pi\s*(?:/\s*(?P<den>{_NUMBER}))?$")
_DEG_FORM = re.compile(rf"^(?P<num>[-+]?{_NUMBER})\s*(?:deg|°)$")
_RAD_FORM = re.compile(rf"^(?P<num>[-+]?{_NUMBER})\s*(?:rad)?$")
_ANGLE_HELP = "an angle in radians (0.785, -pi/4, 3*pi/4, 2pi) or degrees (45deg)"


def parse_angle(text: str | float | int) -> float:
    """Parse an angle: radians (``0.785``, ``1.2rad``), multiples of pi (``-pi/4``,
    ``3*pi/4``, ``2pi``) or degrees (``45deg``).

    Examples
    --------
    >>> round(parse_angle("-pi/4"), 6), parse_angle("90deg") == parse_angle("pi/2")
    (-0.785398, True)
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(_ANGLE_HELP)  # TOML lists, tables and dates too
    if isinstance(text, (int, float)):
        try:
            value = float(text)
        except OverflowError:  # an int beyond the float range
            raise ValueError(_ANGLE_HELP + "; it must be finite") from None
    else:
        s = text.strip().lower()
        if m := _PI_FORM.match(s):
            num = float(m["num"]) if m["num"] else 1.0
            den = float(m["den"]) if m["den"] else 1.0
            if den == 0:
                raise ValueError(_ANGLE_HELP + "; the denominator is 0")
            value = (-1 if m["sign"] == "-" else 1) * num * math.pi / den
        elif m := _DEG_FORM.match(s):
            value = math.radians(float(m["num"]))
        elif m := _RAD_FORM.match(s):
            value = float(m["num"])
        else:
            raise ValueError(_ANGLE_HELP)
    if not math.isfinite(value):
        raise ValueError(_ANGLE_HELP + "; it must be finite")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("a number")
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError("a number") from None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range
            raise ValueError("a number") from None
    raise ValueError("a number")


def _real(low: float | None = None, *, low_open: bool = True, high: float | None = None,
          high_open: bool = False, allow_inf: bool = False) -> Callable[[Any], float]:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = "a number" + (" " + " and ".join(parts) if parts else "") + (
        " (or inf)" if allow_inf else "")

    def parse(value: Any) -> float:
        try:
            x = _number(value)
        except ValueError:
            raise ValueError(what) from None
        if allow_inf and x == math.inf:
            return x
        bad = (math.isnan(x) or math.isinf(x)
               or (low is not None and (x <= low if low_open else x < low))
               or (high is not None and (x >= high if high_open else x > high)))
        if bad:
            raise ValueError(what)
        return x
    return parse


def _integer(low: int, high: int, *, odd: bool = False) -> Callable[[Any], int]:
    what = f"{'an odd' if odd else 'an'} integer from {low} to {high}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(what)
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"[-+]?\d+", value):
                raise ValueError(what)
            try:
                value = int(value)
            except ValueError:  # more digits than int() converts
                raise ValueError(what) from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high or (odd and value % 2 == 0):
            raise ValueError(what)
        return value
    return parse


def _choice(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            raise ValueError("one of " + ", ".join(allowed))
        return value.strip().lower()
    return parse


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise ValueError("true or false")


def _image(value: Any) -> str:
    allowed = f"{', '.join(SYNTHETIC)} or a path to a {', '.join(FILE_SUFFIXES)} file"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(allowed)
    text = value.strip()
    if text.lower() in SYNTHETIC:
        return text.lower()
    path = Path(text)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ValueError(allowed)
    try:
        exists = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        exists = False
    if not exists:
        raise ValueError(f"{allowed}; {text} does not exist")
    return text


def _learn(value: Any) -> tuple[str, ...]:
    what = "a non-empty list of distinct names from " + ", ".join(PARAM_NAMES)
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(what)
    names: list[str] = []
    for item in items:
        if isinstance(item, str) and "," in item:
            names.extend(_learn(item))
            continue
        if not isinstance(item, str) or item.strip().lower() not in PARAM_NAMES:
            raise ValueError(what)
        names.append(item.strip().lower())
    if len(set(names)) != len(names):
        raise ValueError(what)
    # canonical order, so that a run does not depend on how the user listed them
    return tuple(name for name in PARAM_NAMES if name in names)


def _betas(value: Any) -> tuple[float, float]:
    what = "two numbers in [0, 1), e.g. 0.9,0.999"
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or len(items) != 2:
        raise ValueError(what)
    unit = _real(0.0, low_open=False, high=1.0, high_open=True)
    try:
        return unit(items[0]), unit(items[1])
    except ValueError:
        raise ValueError(what) from None


def _callable_spec(value: Any) -> str:
    what = "module:function or path/to/file.py:function"
    if not isinstance(value, str):
        raise ValueError(what)
    module, sep, name = value.strip().rpartition(":")
    if not sep or not module or not name.isidentifier():
        raise ValueError(what)
    return value.strip()


# Kernel parameters (pixels): outside these the kernel under- or overflows on a grid of
# at most 255 pixels, or is a single pixel or a constant in all but name.
_SIGMA = _real(1e-3, low_open=False, high=1e4)
_LAMBDA = _real(1e-3, low_open=False, high=1e6, allow_inf=True)
_GAMMA = _real(1e-3, low_open=False, high=1e3)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "image": _image,
    "size": _integer(1, MAX_SIZE),
    "seed": _integer(0, 2**32 - 1),
    "ksize": _integer(3, 255, odd=True),
    "sigma": _SIGMA,
    "lambda": _LAMBDA,
    "gamma": _GAMMA,
    "psi": parse_angle,
    "target-theta": parse_angle,
    "theta0": parse_angle,
    "lambda0": _LAMBDA,
    "sigma0": _SIGMA,
    "gamma0": _GAMMA,
    "psi0": parse_angle,
    "learn": _learn,
    "loss": _choice(LOSSES),
    "loss-eps": _real(0.0),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _real(0.0),
    "momentum": _real(0.0, low_open=False, high=1.0, high_open=True),
    "dampening": _real(0.0, low_open=False, high=1.0),
    "nesterov": _boolean,
    "betas": _betas,
    "alpha": _real(0.0, low_open=False, high=1.0, high_open=True),
    "eps": _real(0.0),
    "steps": _integer(1, MAX_STEPS),
    "op": _choice(OPS),
    "boundary": _choice(BOUNDARIES),
    "standardize": _boolean,
    "engine": _choice(ENGINES),
    "kernel": _callable_spec,
    "derivative": _callable_spec,
}
assert set(_PARSERS) == set(KEYS)


@dataclass(frozen=True)
class ConfigSource:
    """Where the values came from: the file (if any) and the raw extra tables."""

    path: Path | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)


def _parse(key: str, value: Any, label: str) -> Any:
    try:
        return _PARSERS[key](value)
    except ValueError as exc:
        raise ConfigError(f"{label}: invalid value {_show(value)}; expected {exc}") from None


def parse_option(key: str, value: Any) -> Any:
    """Validate one command-line value for config key ``key`` (errors name ``--key``)."""
    return _parse(key, value, f"--{key}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_config(path: Path) -> tuple[dict[str, Any], ConfigSource]:
    """Read and validate a TOML experiment file.

    Returns the parsed experiment values (by config key) and the other tables.
    """
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config: file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"--config: {path} is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table")
            if key == "expect":  # validated wherever the file is read, not only by check
                from .check import parse_expectations

                parse_expectations(value, str(path))
            sections[key] = value
            continue
        canonical = key.replace("_", "-") if key != "lambda" else key
        if canonical in values:
            other = next(k for k in raw if k != key and
                         (k.replace("_", "-") if k != "lambda" else k) == canonical)
            raise ConfigError(f"{path}: keys {other!r} and {key!r} are the same key; "
                              "keep one")
        if canonical not in _PARSERS:
            tables = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"{path}: unknown key {key!r}; allowed keys: "
                              f"{', '.join(KEYS)} and tables {tables}")
        values[canonical] = _parse(canonical, value, f"{path}: key {key!r}")
    return values, ConfigSource(path=path, sections=sections)


def resolve_config(overrides: Mapping[str, Any] | None = None,
                   config_path: Path | None = None,
                   base: Config | None = None) -> tuple[Config, ConfigSource]:
    """Defaults, then the TOML file, then command-line overrides (``None`` = not given).

    Parameters
    ----------
    overrides : mapping
        Config key -> raw value (strings from the command line are parsed here).
    config_path : Path, optional
        A TOML experiment file.
    base : Config, optional
        Starting values instead of the defaults.

    Examples
    --------
    >>> cfg, _ = resolve_config({"theta0": "-pi/4", "loss": "mse"})
    >>> round(cfg.theta0, 4), cfg.loss
    (-0.7854, 'mse')
    """
    values: dict[str, Any] = {}
    source = ConfigSource()
    if config_path is not None:
        values, source = load_config(config_path)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _PARSERS:
            raise ConfigError(f"unknown option --{key}")
        values[key] = _parse(key, value, f"--{key}")
    # The learning rate defaults to torch.optim's default for the chosen optimizer when
    # only the optimizer was changed.
    config = replace(base or Config(), **{_field(k): v for k, v in values.items()})
    if "lr" not in values and "optimizer" in values and base is None:
        config = replace(config, lr=DEFAULT_LR[config.optimizer]
                         if config.optimizer != "sgd" else Config.lr)
    _check_consistency(config)
    return config, source


def _check_consistency(config: Config) -> None:
    if config.nesterov and (config.optimizer != "sgd" or config.momentum == 0
                            or config.dampening != 0):
        raise ConfigError("--nesterov: needs --optimizer sgd, --momentum > 0 and "
                          "--dampening 0 (as torch.optim.SGD requires)")
    if config.image in SYNTHETIC and config.size < config.ksize and config.boundary == "valid":
        raise ConfigError(f"--size: {config.size} is smaller than --ksize {config.ksize}; "
                          f"a valid correlation needs size >= ksize")


def config_to_toml(config: Config) -> str:
    """The config as TOML that :func:`load_config` reads back to the same values."""
    lines = ["# gabordiag experiment (fully resolved)"]
    for key, value in config.to_dict().items():
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.replace("\\", "\\\\").replace('"', '\\"')
        # TOML basic strings allow no control characters but tab: escape them
        text = re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", text)
        return '"' + text + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
