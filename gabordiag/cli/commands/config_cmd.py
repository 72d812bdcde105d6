"""``gabordiag config show``: the fully resolved experiment as TOML."""

from pathlib import Path
from typing import Any, Optional

import typer

from ..app import HelpGroup, _App, app
from ..options import with_experiment_options
from ..render import print_warning

config_app = _App(cls=HelpGroup, help="Inspect experiment configurations.",
                  no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@with_experiment_options
def show(experiment: dict[str, Any], config_path: Optional[Path]) -> None:
    """Print the fully resolved config (defaults, file, options) as TOML.

    Save it and pass it back with --config to reproduce a run exactly.
    """
    from ...config.files import config_to_toml
    from ...config.model import ineffective_option
    from ...config.resolve import resolve_config
    from ...errors import ConfigError

    # showing a file that names code runs none of it: shown without --allow-code, so that
    # a file from elsewhere can be read before it is trusted
    config, source = resolve_config(experiment, config_path, allow_code=True)
    why = ineffective_option({k for k, v in experiment.items() if v is not None}, config)
    if why is not None:  # what recover would refuse is not shown as a config to run
        raise ConfigError(why)
    for warning in source.warnings:
        print_warning(warning)
    typer.echo(config_to_toml(config), nl=False)
