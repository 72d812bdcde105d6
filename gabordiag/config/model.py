"""The experiment: one frozen :class:`Config`, its keys, and how values resolve.

Config keys use the command-line names without the leading dashes (``lambda``,
``theta0``, ``target-theta``); ``target_theta`` is accepted as the same key, in files,
on the command line and from Python. Every value is validated where it enters, and
errors name the option or key and what is allowed. Resolution order: the defaults,
then a TOML file, then command-line (or Python) overrides
(:func:`gabordiag.config.resolve.resolve_config`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..errors import ConfigError
from . import values as v
from .choices import (
    BOUNDARIES,
    DEFAULT_LR,
    ENGINES,
    LOSSES,
    OPS,
    OPTIMIZERS,
    SYNTHETIC,
)
from .params import GaborParams

__all__ = ["KEYS", "MAX_SIZE", "MAX_STEPS", "PARSERS", "Config", "OptimizerSettings",
           "canonical_key", "check_consistency", "field_name", "ineffective_option", "key_name",
           "option_value",
           "options_of", "parse_option", "parse_value", "resolve_values", "show_value",
           "value_warning"]

MAX_SIZE = 4096
MAX_STEPS = 1_000_000
# The reported start, -pi/4 as the report typed it: the quick start, the defaults,
# configs/reference.toml and the README describe this one run.
REFERENCE_THETA0 = -0.785


@dataclass(frozen=True)
class OptimizerSettings:
    """Optimizer name and hyper-parameters (torch.optim's names and defaults; ``lr``
    defaults to :data:`~gabordiag.config.choices.DEFAULT_LR` of the optimizer)."""

    name: str = "sgd"
    lr: Any = None  # a float, or an array of one lr per run
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    alpha: float = 0.99
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.lr is None and self.name in DEFAULT_LR:
            object.__setattr__(self, "lr", DEFAULT_LR[self.name])


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
    theta0: float = REFERENCE_THETA0
    lambda0: float | None = None
    sigma0: float | None = None
    gamma0: float | None = None
    psi0: float | None = None
    learn: tuple[str, ...] = ("theta",)
    loss: str = "rmse"
    loss_eps: float = 1.0
    optimizer: str = "sgd"
    lr: float = DEFAULT_LR["sgd"]
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

    @property
    def plain_sgd(self) -> bool:
        """SGD without momentum: each step is ``lr x gradient``."""
        return self.optimizer == "sgd" and self.momentum == 0

    @property
    def uses_code(self) -> bool:
        """Whether the run imports the user's code (``--kernel``/``--derivative``)."""
        return self.kernel is not None or self.derivative is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain values keyed by config key (``lambda``, ``target-theta``, ...); unset
        optional values are left out."""
        raw = asdict(self)
        return {key_name(name): list(value) if isinstance(value, tuple) else value
                for name, value in raw.items() if value is not None}


# -- keys: the one mapping between option names, config keys and field names -------------

def key_name(field: str) -> str:
    """The config key (and option name without ``--``) of a Config field."""
    return "lambda" if field == "lambd" else field.replace("_", "-")


def field_name(key: str) -> str:
    """The Config field (and Python parameter name) of a config key."""
    return "lambd" if key == "lambda" else key.replace("-", "_")


def canonical_key(key: str) -> str:
    """``target_theta`` and ``target-theta`` are one key."""
    return key.replace("_", "-")


KEYS: tuple[str, ...] = tuple(key_name(f.name) for f in fields(Config))

PARSERS: dict[str, Callable[[Any], Any]] = {
    "image": v.image_source,
    "size": v.integer(1, MAX_SIZE),
    "seed": v.integer(0, 2**32 - 1),
    "ksize": v.integer(3, 255, odd=True),
    "sigma": v.SIGMA,
    "lambda": v.LAMBDA,
    "gamma": v.GAMMA,
    "psi": v.parse_angle,
    "target-theta": v.parse_angle,
    "theta0": v.parse_angle,
    "lambda0": v.LAMBDA,
    "sigma0": v.SIGMA,
    "gamma0": v.GAMMA,
    "psi0": v.parse_angle,
    "learn": v.learned_names,
    "loss": v.choice(LOSSES),
    "loss-eps": v.real(0.0),
    "optimizer": v.choice(OPTIMIZERS),
    "lr": v.real(0.0),
    "momentum": v.real(0.0, low_open=False, high=1.0, high_open=True),
    "dampening": v.real(0.0, low_open=False, high=1.0),
    "nesterov": v.boolean,
    "betas": v.pair_of_unit_numbers,
    "alpha": v.real(0.0, low_open=False, high=1.0, high_open=True),
    "eps": v.real(0.0),
    "steps": v.integer(1, MAX_STEPS),
    "op": v.choice(OPS),
    "boundary": v.choice(BOUNDARIES),
    "standardize": v.boolean,
    "engine": v.choice(ENGINES),
    "kernel": v.callable_spec,
    "derivative": v.callable_spec,
}
assert set(PARSERS) == set(KEYS)


def show_value(value: Any) -> str:
    """A raw value as an error message quotes it (cut at 60 characters)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def option_value(label: str, parser: Callable[[Any], Any], value: Any) -> Any:
    """``parser(value)``, with a failure as a :class:`ConfigError` naming ``label``."""
    try:
        return parser(value)
    except ValueError as exc:
        raise ConfigError(f"{label}: invalid value {show_value(value)}; expected {exc}"
                          ) from None


def parse_value(key: str, value: Any, label: str) -> Any:
    """Validate one value of config key ``key``; errors name ``label``."""
    return option_value(label, PARSERS[key], value)


ANGLE_KEYS = ("psi", "target-theta", "theta0", "psi0")


def value_warning(key: str, raw: Any, parsed: Any, label: str) -> str | None:
    """A warning about an accepted value that is probably not what was meant."""
    if key in ANGLE_KEYS:
        text = v.angle_warning(raw, parsed)
        return f"{label}: {text}" if text else None
    return None


def parse_option(key: str, value: Any) -> Any:
    """Validate one command-line value for config key ``key`` (errors name ``--key``)."""
    return parse_value(key, value, f"--{key}")


def resolve_values(values: Mapping[str, Any], base: Config | None = None) -> Config:
    """A Config from parsed values (by config key) over ``base`` or the defaults.

    The learning rate defaults to the chosen optimizer's default when only the optimizer
    was changed.
    """
    config = replace(base or Config(), **{field_name(k): val for k, val in values.items()})
    if "lr" not in values and "optimizer" in values and base is None:
        config = replace(config, lr=DEFAULT_LR[config.optimizer])
    check_consistency(config)
    return config


def check_consistency(config: Config) -> None:
    """Refuse combinations that no single value shows to be wrong."""
    if config.nesterov and (config.optimizer != "sgd" or config.momentum == 0
                            or config.dampening != 0):
        raise ConfigError("--nesterov: needs --optimizer sgd, --momentum > 0 and "
                          "--dampening 0 (as torch.optim.SGD requires)")
    if config.image in SYNTHETIC and config.size < config.ksize and config.boundary == "valid":
        raise ConfigError(f"--size: {config.size} is smaller than --ksize {config.ksize}; "
                          f"a valid correlation needs size >= ksize")


def ineffective_option(given: Collection[str], config: Config,
                       optimizers: Collection[str] = (), losses: Collection[str] = ()
                       ) -> str | None:
    """Why an option given on the command line (``given``: config keys) has no effect on
    the run ``config`` describes, or ``None``. ``optimizers`` and ``losses``: the ones
    a command compares (basins), each of which may give the option an effect.

    Config files are not held to this: ``gabordiag config show`` writes every key, and
    reading that back must work.

    Examples
    --------
    >>> print(ineffective_option({"betas"}, Config()))
    --betas: Adam's betas have no effect with --optimizer sgd; drop it, or use --optimizer adam
    >>> ineffective_option({"betas"}, Config(), optimizers={"sgd", "adam"}) is None
    True
    """
    optimizers = set(optimizers) | {config.optimizer}
    losses = set(losses) | {config.loss}
    uses = {"betas": ("adam" in optimizers, "Adam's betas", "--optimizer adam"),
            "alpha": ("rmsprop" in optimizers, "RMSprop's alpha", "--optimizer rmsprop"),
            "eps": (bool(optimizers - {"sgd"}), "the eps of Adam and RMSprop",
                    "--optimizer adam or rmsprop"),
            "momentum": (bool(optimizers - {"adam"}), "momentum", "--optimizer sgd or rmsprop"),
            "dampening": ("sgd" in optimizers and config.momentum > 0, "dampening",
                          "--optimizer sgd with --momentum > 0"),
            "loss-eps": ("rmse-eps" in losses, "the eps of rmse-eps", "--loss rmse-eps")}
    shown = {"optimizer": ", ".join(sorted(optimizers)), "loss": ", ".join(sorted(losses))}
    for key, (used, what, needs) in uses.items():
        if key in given and not used:
            mode = (f"--loss {shown['loss']}" if key == "loss-eps" else
                    f"--optimizer {shown['optimizer']}" + (
                        " and --momentum 0" if key == "dampening" and config.momentum == 0
                        and "sgd" in optimizers else ""))
            return f"--{key}: {what} {'has' if key != 'betas' else 'have'} no effect with " \
                   f"{mode}; drop it, or use {needs}"
    for name, key in (("theta", "theta0"), ("lambda", "lambda0"), ("sigma", "sigma0"),
                      ("gamma", "gamma0"), ("psi", "psi0")):
        if key in given and name not in config.learn:
            return (f"--{key}: a start for {name} has no effect when {name} is not learned "
                    f"(--learn {','.join(config.learn)}); drop it, or add --learn {name}")
    if config.image not in SYNTHETIC:
        for key in ("size", "seed"):
            if key in given:
                return (f"--{key}: has no effect on --image {config.image}, a file with its "
                        f"own size and content (--{key} sets the synthetic images); drop it")
    elif "seed" in given and config.image == "grating":
        return ("--seed: has no effect on --image grating, which has no randomness; drop it, "
                "or use --image pink or white")
    return None


def options_of(config: Config, base: Config | None = None) -> list[str]:
    """The command-line options that turn ``base`` (the defaults) into ``config``:
    what a user types to run the same experiment.

    Examples
    --------
    >>> options_of(replace(Config(), loss="mse", lr=3e-4, nesterov=True, momentum=0.9))
    ['--loss', 'mse', '--lr', '0.0003', '--momentum', '0.9', '--nesterov']
    """
    base = base or Config()
    out: list[str] = []
    for f in fields(Config):
        value, default = getattr(config, f.name), getattr(base, f.name)
        if value == default or value is None:
            continue
        key = key_name(f.name)
        if isinstance(value, bool):
            out.append(f"--{key}" if value else f"--no-{key}")
        elif isinstance(value, tuple):
            out += [f"--{key}", ",".join(str(item) for item in value)]
        else:
            out += [f"--{key}", f"{value!r}" if isinstance(value, float) else str(value)]
    return out
