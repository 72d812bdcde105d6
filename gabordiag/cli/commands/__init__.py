"""Command modules; importing one registers its command on the app."""

from . import config_cmd, kernel_cmd, landscape_cmd, recover_cmd  # noqa: F401
