"""A bare two-command typer app: the yardstick for ``gabordiag --help`` start-up.

``bench_cli.py`` times ``python bare_typer_app.py --help`` next to ``gabordiag --help``
and ``gabordiag recover --help``: the part of their time that any typer command line
pays (the interpreter, typer, click, rich, pydantic) is in both.
"""

import typer

app = typer.Typer()


@app.command()
def first(count: int = 1, name: str = "a") -> None:
    """The first command."""
    typer.echo(name * count)


@app.command()
def second(flag: bool = False) -> None:
    """The second command."""
    typer.echo(str(flag))


if __name__ == "__main__":
    app()
