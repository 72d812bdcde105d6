"""The typer application the commands register on (``gabordiag --version`` too)."""

import inspect
import shutil
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..errors import ConfigError
from .terminal import ClosedPipe

__all__ = ["NARROW_HELP", "HelpCommand", "HelpGroup", "app"]

#: Below this many columns the help drops rich's option tables (which cut option
#: names and values mid-word) for click's plain layout, which wraps between words.
NARROW_HELP = 80


class _HelpStyle:
    """One help style for every command: no ``<bool>`` metavar on flags (``--help``
    included), every default written as ``(default: X)`` at the end of the help text,
    and the plain layout on narrow terminals."""

    params: list[Any]
    rich_markup_mode: Any
    help: str | None

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            _one_default_style(param)
        help_text, self.help = self.help, _reflowed(self.help)
        try:
            if shutil.get_terminal_size((NARROW_HELP, 24)).columns >= NARROW_HELP:
                super().format_help(ctx, formatter)  # type: ignore[misc]
                return
            saved, self.rich_markup_mode = self.rich_markup_mode, None
            try:
                super().format_help(ctx, formatter)  # type: ignore[misc]
            finally:
                self.rich_markup_mode = saved
        finally:
            self.help = help_text


def _reflowed(text: str | None) -> str | None:
    """The docstring's paragraphs, each on one line, for the terminal to wrap (typer
    keeps a docstring's line breaks, so a line the terminal wraps leaves a stub)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split())
                       for p in paragraphs)


def _one_default_style(param: Any) -> None:
    """``[default: 360]`` (typer's) becomes ``(default: 360)`` (ours); flags get no
    metavar."""
    if getattr(param, "param_type_name", "") != "option":
        return
    if getattr(param, "is_flag", False) or getattr(param, "is_bool_flag", False):
        param.metavar = param.metavar or ""
        param.show_default = False
        return
    default = param.default
    if param.show_default is False or default is None or callable(default):
        param.show_default = False
        return
    if param.metavar is None and isinstance(default, (int, float)):
        param.metavar = "INT" if isinstance(default, int) else "FLOAT"
    help_text = param.help or ""
    if "(default:" not in help_text:
        param.help = f"{help_text} (default: {default})".strip()
    param.show_default = False


#: options a command compares when repeated (elsewhere a repeat is an error that says so)
COMPARED_BY = {"--lr": "basins", "--optimizer": "basins", "--loss": "basins"}


def refuse_repeats(command: Any, ctx: Any, args: list[str]) -> None:
    """A single-valued option given twice is an error naming it: click would silently
    keep the last value (``--lr 1 --lr 2`` ran with 2)."""
    if ctx.resilient_parsing:
        return
    try:
        _, _, order = command.make_parser(ctx).parse_args(args=list(args))
    except Exception:  # a usage error: click's own parse reports it next
        return
    counts: dict[int, int] = {}
    for param in order:
        counts[id(param)] = counts.get(id(param), 0) + 1
    for param in command.get_params(ctx):
        repeats = counts.get(id(param), 0)
        if (getattr(param, "param_type_name", "") != "option" or getattr(param, "multiple", True)
                or getattr(param, "count", False) or repeats < 2):
            continue
        name = "/".join([*param.opts, *param.secondary_opts])
        other = COMPARED_BY.get(param.opts[0])
        hint = (f"; gabordiag {other} compares several" if other and other != command.name
                else "")
        where = ctx.command_path.split(" ", 1)[-1]
        raise ConfigError(f"{name}: given {repeats} times; {where} takes one value "
                          f"(only the last would be used){hint}")


class HelpCommand(_HelpStyle, TyperCommand):
    """A command with gabordiag's help style; a repeated single-valued option is an
    error; a closed stdout ends it quietly."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        refuse_repeats(self, ctx, args)
        return super().parse_args(ctx, args)  # type: ignore[no-any-return]

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # typer would exit 1; a reader that left is no error
            raise ClosedPipe() from None


class HelpGroup(_HelpStyle, TyperGroup):
    """A command group with gabordiag's help style."""


class _App(typer.Typer):
    """A Typer app whose commands use :class:`HelpCommand` unless told otherwise."""

    def command(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("cls", HelpCommand)
        return super().command(*args, **kwargs)


app = _App(
    cls=HelpGroup,
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
