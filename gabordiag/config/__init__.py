"""The experiment's configuration: the vocabulary, the value grammar, the Config model,
TOML files and the ``[expect]`` schema. Importable without numpy."""

from .choices import DEFAULT_LR, PARAM_NAMES
from .files import ConfigSource, config_to_toml, load_config
from .model import Config, OptimizerSettings, parse_option
from .params import GaborParams
from .resolve import resolve_config
from .values import parse_angle

__all__ = ["DEFAULT_LR", "PARAM_NAMES", "Config", "ConfigSource", "GaborParams",
           "OptimizerSettings", "config_to_toml", "load_config", "parse_angle", "parse_option",
           "resolve_config"]
