"""``python -m gabordiag``."""

from gabordiag.cli import run

if __name__ == "__main__":
    run()
