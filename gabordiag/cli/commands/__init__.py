"""Command modules; importing one registers its command on the app."""

from . import basins_cmd, config_cmd, kernel_cmd, landscape_cmd, recover_cmd  # noqa: F401
