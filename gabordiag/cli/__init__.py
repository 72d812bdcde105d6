"""The ``gabordiag`` command line: parse, call the core, render with rich.

Exit codes: 0 success (also when the reader of stdout closed it early), 1 a check that
ran and failed, 2 a usage or config error (or an output file that cannot be written),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP).

BLAS runs on one thread (``GABORDIAG_BLAS_THREADS`` changes that): the results are then
the same bits whatever the machine's thread settings, and the small products of the
fast engines run faster without thread start-up. :func:`main` sets it before a command
imports numpy.
"""

import copy
import os
import sys

import typer

try:  # typer >= 0.2x vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from ..errors import GabordiagError
from . import terminal
from .app import app
from .render import code_notes, flush_code_notes, print_error

__all__ = ["app", "main", "run"]

# click >= 8.2 raises this after printing the help of a group called without a command
_NO_ARGS_IS_HELP = getattr(click_exceptions, "NoArgsIsHelpError", ())

# Each command lives in its own module; importing it registers it on `app`.
from . import commands  # noqa: E402, F401


def single_thread_blas() -> None:
    """One BLAS thread (or ``GABORDIAG_BLAS_THREADS``), for numpy imported after this."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = os.environ.get("GABORDIAG_BLAS_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map errors to one-line messages and exit codes."""
    single_thread_blas()
    terminal.ascii_fallback()
    args = list(sys.argv[1:] if argv is None else argv)
    code_notes(clear=True)  # a new command (in-process callers run several)
    with terminal.signals_as_interrupts():
        code = _run(args)
    flush_code_notes()  # what the user's code did, once each (errors said them already)
    return code


def _run(args: list[str]) -> int:
    command = typer.main.get_command(_app_for(args))
    try:
        # the arguments as given ride on the context, for a report's "command" line
        result = command.main(args=args, prog_name="gabordiag", standalone_mode=False,
                              obj={"argv": tuple(args)})
    except _NO_ARGS_IS_HELP:
        return 2  # a group called without a command: the help is shown, as typer does
    except click_exceptions.UsageError as exc:
        # a command's path names it ("gabordiag recover: ..."); the root's is the prefix
        where = f"{exc.ctx.command_path}: " if exc.ctx and exc.ctx.parent else ""
        print_error(f"{where}{exc.format_message()}")
        return 2
    except terminal.ClosedPipe:
        terminal.quiet_closed_stdout()
        return 0
    except terminal.Terminated as exc:
        return _terminated(exc.signum)
    except (typer.Abort, KeyboardInterrupt):
        if terminal.received:
            return _terminated(terminal.received[-1])
        print_error("interrupted")
        return 130
    except GabordiagError as exc:
        print_error(str(exc))
        return exc.exit_code
    except click_exceptions.ClickException as exc:
        print_error(exc.format_message())
        return exc.exit_code
    code = result if isinstance(result, int) else 0
    if code == 130 and terminal.received:  # typer turns a Terminated into Exit(130)
        return _terminated(terminal.received[-1])
    if code == 130:  # typer turns Ctrl-C into Exit(130)
        print_error("interrupted")
    return code


def _terminated(signum: int) -> int:
    exc = terminal.Terminated(signum)
    print_error(f"terminated by {exc.name}")
    return exc.exit_code


def _app_for(args: list[str]) -> typer.Typer:
    """The app, with only the command the arguments name when they name one: typer
    turns every command's options into click parameters before it parses anything, and
    one command's are all a run needs (its help and its errors are the same)."""
    name = args[0] if args else None
    chosen = [c for c in app.registered_commands if c.name == name]
    if not chosen:
        return app
    one = copy.copy(app)
    one.registered_commands = chosen
    one.registered_groups = []
    return one


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
