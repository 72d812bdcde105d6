"""Resolving an experiment: the defaults, then a TOML file, then overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .files import ConfigSource, load_config
from .model import PARSERS, Config, canonical_key, parse_option, resolve_values, value_warning
from .values import wavelength_warning

__all__ = ["resolve_config"]


def resolve_config(overrides: Mapping[str, Any] | None = None,
                   config_path: Path | None = None,
                   base: Config | None = None,
                   allow_code: bool = False) -> tuple[Config, ConfigSource]:
    """Defaults, then the TOML file, then overrides (``None`` = not given).

    Parameters
    ----------
    overrides : mapping
        Config key (``target-theta`` or ``target_theta``) -> raw value; strings from the
        command line are parsed here.
    config_path : Path, optional
        A TOML experiment file.
    base : Config, optional
        Starting values instead of the defaults.
    allow_code : bool
        Let the file's ``kernel``/``derivative`` keys name code to import and run. A
        file is data that may come from anyone (a pull request checked in CI): without
        this, a file that names code is refused. ``overrides`` (the command line's own
        ``--kernel``) are the caller's explicit request and always allowed.

    Returns
    -------
    config : Config
    source : ConfigSource
        The file, its extra tables (``[expect]``) and the warnings about values that
        were accepted but are probably not what was meant (``--theta0 45``).

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
    from_file = set(values)
    warnings = list(source.warnings)
    for raw_key, value in (overrides or {}).items():
        if value is None:
            continue
        key = canonical_key(raw_key)
        if key not in PARSERS:
            raise ConfigError(f"unknown option --{raw_key}")
        values[key] = parse_option(key, value)
        warning = value_warning(key, value, values[key], f"--{key}")
        if warning:
            warnings.append(warning)
    given = {canonical_key(k) for k, v in (overrides or {}).items() if v is not None}
    for key, spec in source.code.items():
        if key not in given and not allow_code:
            raise ConfigError(f"{source.path}: key {key!r} = {spec!r} names code that "
                              "gabordiag would import and run; code named in a config file "
                              "runs only with --allow-code (give it if you trust the file), "
                              f"or give --{key} on the command line")
    config = resolve_values(values, base)

    def label(key: str) -> str:
        if key in given:
            return f"--{key}"
        return f"{source.path}: key {key!r}" if key in from_file else key

    warnings += [f"{label(key)}: {text}" for key, value in _wavelengths(config)
                 if (text := wavelength_warning(value))]
    return config, replace(source, warnings=tuple(warnings))


def _wavelengths(config: Config) -> list[tuple[str, float]]:
    """The carrier wavelengths a run uses, by config key: the target's, and the start
    when lambda is learned (the resolved values: a file's value that an option
    replaced, or a start that is not used, is not warned about)."""
    found = [("lambda", config.lambd)]
    if "lambda" in config.learn and config.lambda0 is not None:
        found.append(("lambda0", config.lambda0))
    return found
