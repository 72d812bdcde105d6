"""The typer application the commands register on (``gabordiag --version`` too)."""

from typing import Annotated, Optional

import typer

from .. import __version__

__all__ = ["app"]

app = typer.Typer(
    name="gabordiag",
    help="Diagnose gradient descent on the parameters of a Gabor-constrained "
    "convolution kernel: reproduce a run, look at the loss landscape, find the fix.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gabordiag {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Show the version and exit.")] = None,
) -> None:
    """Diagnose gradient descent on Gabor kernel parameters."""
