"""Experiment options shared by every command that runs the experiment.

Values are taken as text and parsed by :mod:`gabordiag.config`, so the command line and
config files accept the same forms (``-pi/4``, ``45deg``) and give the same one-line
errors. Nothing here imports numpy: ``--help`` stays fast.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..config.model import field_name

__all__ = ["ALLOW_CODE", "CHOICES", "EXPERIMENT_OPTIONS", "Boundary", "Engine", "ImageSource",
           "Loss", "Op", "Optimizer", "allow_code", "csv_option", "json_flag", "plot_option",
           "remember_allow_code", "with_experiment_options"]

_PANEL = "Experiment"


# -- the choices, as Enums: help lists them and shell completion offers them --------------
# The option values stay text: gabordiag.config parses and checks them, so a config file
# and the command line accept the same names and give the same errors.

class Loss(StrEnum):
    """``--loss``."""

    mse = "mse"
    rmse = "rmse"
    rmse_eps = "rmse-eps"
    l1 = "l1"
    huber = "huber"


class Optimizer(StrEnum):
    """``--optimizer``."""

    sgd = "sgd"
    rmsprop = "rmsprop"
    adam = "adam"


class Engine(StrEnum):
    """``--engine``."""

    auto = "auto"
    direct = "direct"
    quadratic = "quadratic"
    spectral = "spectral"


class ImageSource(StrEnum):
    """The synthetic sources of ``--image`` (a file path is accepted too)."""

    pink = "pink"
    white = "white"
    grating = "grating"


class Op(StrEnum):
    """``--op``."""

    correlate = "correlate"
    convolve = "convolve"


class Boundary(StrEnum):
    """``--boundary``."""

    valid = "valid"
    same = "same"
    circular = "circular"


#: option -> its Enum (a test holds these to gabordiag.config.choices)
CHOICES: dict[str, type[Enum]] = {"loss": Loss, "optimizer": Optimizer, "engine": Engine,
                                  "image": ImageSource, "op": Op, "boundary": Boundary}


def _names(choice: type[Enum]) -> list[str]:
    return [str(member.value) for member in choice]


def _completion(choice: type[Enum]) -> Callable[[str], list[str]]:
    """Shell completion: the choices that start with what was typed."""

    def complete(incomplete: str) -> list[str]:
        return [name for name in _names(choice) if name.startswith(incomplete)]

    return complete


def _choice(*names: str, choice: type[Enum], help: str, metavar: str = "NAME",
            panel: str = _PANEL) -> Any:
    listed = ", ".join(_names(choice))
    return typer.Option(*names, help=help.format(choices=listed), metavar=metavar,
                        rich_help_panel=panel, show_default=False,
                        autocompletion=_completion(choice))


def _opt(*names: str, help: str, metavar: str, panel: str = _PANEL) -> Any:
    return typer.Option(*names, help=help, metavar=metavar, rich_help_panel=panel,
                        show_default=False)


# config key -> (annotation) ; defaults are None: "not given", so config files and the
# built-in defaults (see `gabordiag config show`) apply.
EXPERIMENT_OPTIONS: dict[str, Any] = {
    "config": Annotated[Optional[Path], typer.Option(
        "--config", help="TOML experiment file; options given here override its values.",
        metavar="FILE.toml", rich_help_panel=_PANEL, show_default=False)],
    "image": Annotated[Optional[str], _choice(
        "--image", choice=ImageSource, help="Image: {choices} (1/f noise, white noise, a "
        "grating along the target), or a .npy/.png/.jpg file. (default: pink)",
        metavar="NAME|PATH")],
    "size": Annotated[Optional[str], _opt(
        "--size", help="Side of synthetic images in pixels. (default: 128)", metavar="INT")],
    "seed": Annotated[Optional[str], _opt(
        "--seed", help="Seed of the noise image. (default: 5)", metavar="INT")],
    "ksize": Annotated[Optional[str], _opt(
        "--ksize", help="Kernel size (odd, >= 3). (default: 21)", metavar="INT")],
    "sigma": Annotated[Optional[str], _opt(
        "--sigma", help="Envelope width sigma of the target kernel. (default: 4)",
        metavar="FLOAT")],
    "lambda": Annotated[Optional[str], _opt(
        "--lambda", help="Wavelength lambda of the target kernel (inf: no carrier). "
        "(default: 10)", metavar="FLOAT")],
    "gamma": Annotated[Optional[str], _opt(
        "--gamma", help="Aspect ratio gamma of the target kernel. (default: 0.5)",
        metavar="FLOAT")],
    "psi": Annotated[Optional[str], _opt(
        "--psi", help="Phase psi of the target kernel. (default: 0)", metavar="ANGLE")],
    "target-theta": Annotated[Optional[str], _opt(
        "--target-theta", help="Orientation of the target kernel. (default: pi/4)",
        metavar="ANGLE")],
    "theta0": Annotated[Optional[str], _opt(
        "--theta0", help="Starting orientation of the learnable kernel: 0.785, -pi/4, "
        "45deg. (default: -0.785, the reported -pi/4)", metavar="ANGLE")],
    "lambda0": Annotated[Optional[str], _opt(
        "--lambda0", help="Starting lambda when lambda is learned. (default: target's)",
        metavar="FLOAT")],
    "sigma0": Annotated[Optional[str], _opt(
        "--sigma0", help="Starting sigma when sigma is learned. (default: target's)",
        metavar="FLOAT")],
    "gamma0": Annotated[Optional[str], _opt(
        "--gamma0", help="Starting gamma when gamma is learned. (default: target's)",
        metavar="FLOAT")],
    "psi0": Annotated[Optional[str], _opt(
        "--psi0", help="Starting psi when psi is learned. (default: target's)",
        metavar="ANGLE")],
    "learn": Annotated[Optional[list[str]], _opt(
        "--learn", help="Learned parameter(s); repeat or comma-separate: theta, lambda, "
        "sigma, gamma, psi. (default: theta)", metavar="NAME")],
    "loss": Annotated[Optional[str], _choice(
        "--loss", choice=Loss, help="Loss: {choices}. (default: rmse)",
        panel="Loss and optimizer")],
    "loss-eps": Annotated[Optional[str], _opt(
        "--loss-eps", help="eps of rmse-eps = sqrt(mse + eps), in MSE units. (default: 1)",
        metavar="FLOAT", panel="Loss and optimizer")],
    "optimizer": Annotated[Optional[str], _choice(
        "--optimizer", choice=Optimizer, help="Optimizer: {choices} (torch.optim's update "
        "rules). (default: sgd)", panel="Loss and optimizer")],
    "lr": Annotated[Optional[str], _opt(
        "--lr", help="Learning rate. (default: 3e-3 for sgd (the reference case); torch's "
        "default for rmsprop (1e-2) and adam (1e-3))", metavar="FLOAT",
        panel="Loss and optimizer")],
    "momentum": Annotated[Optional[str], _opt(
        "--momentum", help="Momentum (sgd, rmsprop). (default: 0)", metavar="FLOAT",
        panel="Loss and optimizer")],
    "dampening": Annotated[Optional[str], _opt(
        "--dampening", help="Dampening of sgd momentum. (default: 0)", metavar="FLOAT",
        panel="Loss and optimizer")],
    "nesterov": Annotated[Optional[bool], typer.Option(
        "--nesterov/--no-nesterov", help="Nesterov momentum (sgd). (default: off)",
        rich_help_panel="Loss and optimizer", show_default=False, metavar="")],
    "betas": Annotated[Optional[str], _opt(
        "--betas", help="Adam betas. (default: 0.9,0.999)", metavar="B1,B2",
        panel="Loss and optimizer")],
    "alpha": Annotated[Optional[str], _opt(
        "--alpha", help="RMSprop smoothing constant. (default: 0.99)", metavar="FLOAT",
        panel="Loss and optimizer")],
    "eps": Annotated[Optional[str], _opt(
        "--eps", help="Adam/RMSprop eps. (default: 1e-8)", metavar="FLOAT",
        panel="Loss and optimizer")],
    "steps": Annotated[Optional[str], _opt(
        "--steps", help="Number of optimizer steps. (default: 300)", metavar="INT",
        panel="Loss and optimizer")],
    "op": Annotated[Optional[str], _choice(
        "--op", choice=Op, help="How the layer applies the kernel: {choices} (correlate is "
        "what a conv layer does). (default: correlate)")],
    "boundary": Annotated[Optional[str], _choice(
        "--boundary", choice=Boundary, help="Boundary: {choices} (no padding, zero padding, "
        "wrap-around). (default: valid)")],
    "standardize": Annotated[Optional[bool], typer.Option(
        "--standardize/--no-standardize", help="Scale the image to zero mean and unit "
        "standard deviation. (default: on)", rich_help_panel=_PANEL, show_default=False,
        metavar="")],
    "kernel": Annotated[Optional[str], _opt(
        "--kernel", help="Your kernel instead of ours: module:function or file.py:function "
        "with gabor_kernel's signature (ksize, *, sigma, theta, lambd, gamma, psi); it is "
        "imported and run, so name only code you trust.",
        metavar="MODULE:FUNC", panel="Your code")],
    "derivative": Annotated[Optional[str], _opt(
        "--derivative", help="Your derivative d kernel / d param: module:function with the "
        "kernel's arguments plus param=NAME; imported and run like --kernel. (default: ours, "
        "or finite differences of --kernel)", metavar="MODULE:FUNC", panel="Your code")],
    "engine": Annotated[Optional[str], _choice(
        "--engine", choice=Engine, help="Evaluation engine: {choices} (all exact; auto "
        "picks the fastest). (default: auto)", panel="Loss and optimizer")],
}


#: ``--allow-code``: a config file may name code to run (the command line's own
#: ``--kernel``/``--derivative`` need no permission: they are the user's request)
ALLOW_CODE = Annotated[bool, typer.Option(
    "--allow-code", help="Let --config files (check: the checked files) name code to "
    "import and run (kernel = \"file.py:function\"); without it such a file is refused. "
    "Give it only for files you trust.", rich_help_panel="Your code", show_default=False)]


def remember_allow_code(allowed: bool) -> None:
    """Keep ``--allow-code`` on the command's context, for :func:`allow_code`."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["gabordiag.allow_code"] = bool(allowed)


def allow_code() -> bool:
    """Whether the running command was given ``--allow-code``."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get("gabordiag.allow_code", False))


def _as_list(annotation: Any, help_suffix: str) -> Any:
    """The same option, accepting several values (``--lr 1e-4 --lr 1e-3``)."""
    info = copy.copy(annotation.__metadata__[0])
    info.help = f"{info.help} {help_suffix}"
    return Annotated[Optional[list[str]], info]


def with_experiment_options(func: Callable[..., Any] | None = None, *,
                            multi: tuple[str, ...] = (),
                            only: tuple[str, ...] | None = None) -> Any:
    """Add the experiment options to a command.

    The command receives them as ``experiment: dict`` (config key -> raw value or
    ``None``) and ``config_path``. Keys in ``multi`` accept several values; the command
    then also receives ``several: dict`` (key -> list of raw values, or ``None``) and
    the experiment gets the first value. ``only`` limits the options to those keys
    (``config_path`` is then ``None`` unless ``config`` is one of them).
    """
    if func is None:
        return functools.partial(with_experiment_options, multi=multi, only=only)
    signature = inspect.signature(func)
    own = [p for name, p in signature.parameters.items()
           if name not in ("experiment", "config_path", "several")]
    options = {key: a for key, a in EXPERIMENT_OPTIONS.items() if only is None or key in only}
    annotations = {key: (_as_list(a, "Repeat to compare several.") if key in multi else a)
                   for key, a in options.items()}
    extra = [inspect.Parameter(field_name(key), inspect.Parameter.KEYWORD_ONLY,
                               default=None, annotation=annotation)
             for key, annotation in annotations.items()]
    if "config" in options:  # code named in a config file runs only when allowed
        extra.append(inspect.Parameter("allow_code", inspect.Parameter.KEYWORD_ONLY,
                                       default=False, annotation=ALLOW_CODE))

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        remember_allow_code(kwargs.pop("allow_code", False))
        values = {key: kwargs.pop(field_name(key)) for key in options}
        config_path = values.pop("config", None)
        if values.get("learn") is not None:
            values["learn"] = ",".join(values["learn"])
        several = {key: values[key] for key in multi}
        for key in multi:
            values[key] = values[key][0] if values[key] else None
        if multi:
            kwargs["several"] = several
        return func(experiment=values, config_path=config_path, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**{p.name: p.annotation for p in own},
                               **{p.name: p.annotation for p in extra}}
    return wrapper


def json_flag(schema: str, what: str = "one JSON object") -> Any:
    """The ``--json`` flag (use as ``Annotated[bool, json_flag(schema)]``)."""
    return typer.Option("--json", help=f"Print {what} (schema {schema}) on stdout and "
                        "nothing else.", rich_help_panel="Output", metavar="",
                        show_default=False)


def plot_option(what: str = "a figure") -> Any:
    """The ``--plot FILE`` option (use as ``Annotated[Optional[Path], plot_option()]``)."""
    return typer.Option("--plot", help=f"Write {what}; format from the extension: .png, "
                        ".svg, .pdf.", metavar="FILE", rich_help_panel="Output")


def csv_option(what: str) -> Any:
    """The ``--csv FILE`` option (use as ``Annotated[Optional[Path], csv_option(...)]``)."""
    return typer.Option("--csv", help=f"Write {what} as CSV.", metavar="FILE",
                        rich_help_panel="Output")
