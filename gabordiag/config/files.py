"""Experiment files: reading TOML into checked values, and writing a Config back."""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .choices import SYNTHETIC
from .expect import parse_expectations
from .model import KEYS, PARSERS, Config, canonical_key, parse_value, value_warning
from .paths import code_file, read_regular_file

__all__ = ["CODE_KEYS", "SECTIONS", "ConfigSource", "config_to_toml", "load_config",
           "with_absolute_paths"]

# Tables a config file may hold besides the experiment keys; their content belongs to
# the commands that read them (e.g. ``check`` reads ``[expect]``).
SECTIONS = ("expect",)
# Arrays and tables within each other: an experiment needs 3 ([expect] -> verdict list);
# anything much deeper is an attack on the readers' recursion, not an experiment.
MAX_DEPTH = 16


@dataclass(frozen=True)
class ConfigSource:
    """Where the values came from: the file (if any), the raw extra tables, and the keys
    of the file that name code to import and run (``kernel``, ``derivative``)."""

    path: Path | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    code: Mapping[str, str] = field(default_factory=dict)


# Keys whose value names code that a run imports and runs.
CODE_KEYS = ("kernel", "derivative")


def load_config(path: Path) -> tuple[dict[str, Any], ConfigSource]:
    """Read and validate a TOML experiment file.

    Returns the parsed experiment values (by config key) and the other tables.
    """
    import tomllib  # only when a file is read (help needs none)

    try:
        data = read_regular_file(path)
    except ValueError as exc:
        what = "" if str(exc).startswith("does not exist") else "; a config must be a TOML file"
        raise ConfigError(f"--config: {path} {exc}{what}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError(f"--config: {path} nests arrays or tables more than "
                          f"{MAX_DEPTH} deep; an experiment file needs at most 3") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    if _depth(raw) > MAX_DEPTH:
        raise ConfigError(f"--config: {path} nests arrays or tables more than {MAX_DEPTH} "
                          "deep; an experiment file needs at most 3")
    values: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    warnings: list[str] = []
    code: dict[str, Any] = {}
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
        if canonical in CODE_KEYS:
            code[canonical] = value  # as written, for the message that asks to trust it
        value = _relative_to_file(canonical, value, path)
        values[canonical] = parse_value(canonical, value, label)
        warning = value_warning(canonical, value, values[canonical], label)
        if warning:
            warnings.append(warning)
    return values, ConfigSource(path=path, sections=sections, warnings=tuple(warnings),
                                code=code)


def _relative_to_file(key: str, value: Any, path: Path) -> Any:
    """A path in a config file is relative to the file's folder, not to wherever the
    command runs: an image file and a code file (``file.py:function``, or a
    ``module:function`` whose module sits in that folder) become absolute paths (which
    ``config show`` writes back, so the printed file works from anywhere)."""
    if not isinstance(value, str) or not value.strip():
        return value
    folder = path.parent
    text = value.strip()
    if key == "image":
        if text.lower() in SYNTHETIC or Path(text).is_absolute():
            return value
        return os.path.abspath(folder / text)
    if key in CODE_KEYS:
        module, sep, function = text.rpartition(":")
        if not sep or not module:
            return value
        if module.endswith(".py"):
            if Path(module).is_absolute():
                return value
            return f"{os.path.abspath(folder / module)}:{function}"
        found = code_file(text, [folder])  # a module beside the config file
        if found is not None:
            return f"{os.path.abspath(found)}:{function}"
    return value


def _depth(value: Any) -> int:
    """How deeply arrays and tables nest in a parsed TOML value (iteratively: no
    recursion to exhaust)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = (item.values() if isinstance(item, dict) else
                    item if isinstance(item, list) else None)
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def with_absolute_paths(config: Config) -> Config:
    """``config`` with its relative file paths (an image file, ``file.py:function``)
    made absolute: what a config file written anywhere must hold, since a config file's
    paths are read relative to its own folder."""
    changes: dict[str, Any] = {}
    if config.image not in SYNTHETIC and not Path(config.image).is_absolute():
        changes["image"] = os.path.abspath(config.image)
    for key in CODE_KEYS:
        spec = getattr(config, key)
        module, sep, function = (spec or "").rpartition(":")
        if sep and module.endswith(".py") and not Path(module).is_absolute():
            changes[key] = f"{os.path.abspath(module)}:{function}"
    return replace(config, **changes) if changes else config


def config_to_toml(config: Config) -> str:
    """The config as TOML that :func:`load_config` reads back to the same values (file
    paths written absolute: :func:`with_absolute_paths`)."""
    lines = ["# gabordiag experiment (fully resolved)"]
    for key, value in with_absolute_paths(config).to_dict().items():
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
