"""Command modules; importing one registers its command on the app."""

from . import (  # noqa: F401
    basins_cmd,
    check_cmd,
    config_cmd,
    diagnose_cmd,
    gradcheck_cmd,
    kernel_cmd,
    landscape_cmd,
    layer_cmd,
    recover_cmd,
    remedies_cmd,
)
