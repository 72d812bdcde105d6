"""Experiment files: reading TOML into checked values, and writing a Config back."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .expect import parse_expectations
from .model import KEYS, PARSERS, Config, canonical_key, parse_value, value_warning

__all__ = ["SECTIONS", "ConfigSource", "config_to_toml", "load_config"]

# Tables a config file may hold besides the experiment keys; their content belongs to
# the commands that read them (e.g. ``check`` reads ``[expect]``).
SECTIONS = ("expect",)


@dataclass(frozen=True)
class ConfigSource:
    """Where the values came from: the file (if any) and the raw extra tables."""

    path: Path | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def load_config(path: Path) -> tuple[dict[str, Any], ConfigSource]:
    """Read and validate a TOML experiment file.

    Returns the parsed experiment values (by config key) and the other tables.
    """
    import tomllib  # only when a file is read (help needs none)

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
    warnings: list[str] = []
    for key, value in raw.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{key}] must be a table")
            if key == "expect":  # validated wherever the file is read, not only by check
                parse_expectations(value, str(path))
            sections[key] = value
            continue
        canonical = canonical_key(key)
        if canonical in values:
            other = next(k for k in raw if k != key and canonical_key(k) == canonical)
            raise ConfigError(f"{path}: keys {other!r} and {key!r} are the same key; "
                              "keep one")
        if canonical not in PARSERS:
            tables = ", ".join(f"[{s}]" for s in SECTIONS)
            close = difflib.get_close_matches(canonical, [*KEYS, *SECTIONS], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}; allowed keys: "
                              f"{', '.join(KEYS)} and tables {tables}")
        label = f"{path}: key {key!r}"
        values[canonical] = parse_value(canonical, value, label)
        warning = value_warning(canonical, value, values[canonical], label)
        if warning:
            warnings.append(warning)
    return values, ConfigSource(path=path, sections=sections, warnings=tuple(warnings))




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
