"""The package's exceptions: one base class, caught by the CLI and shown as one line."""

from __future__ import annotations

__all__ = ["ConfigError", "DependencyError", "GabordiagError", "ImageError", "LimitError",
           "OutputError"]


class GabordiagError(Exception):
    """Base class for errors a user can fix; the CLI prints them without a traceback.

    ``exit_code`` is the process exit code the CLI uses (2: usage or config error).
    """

    exit_code: int = 2


class ConfigError(GabordiagError, ValueError):
    """An invalid option or config value. The message names the option or key."""


class ImageError(GabordiagError):
    """An image that cannot be read or used."""


class LimitError(GabordiagError):
    """A request that would need more memory or time than is sensible here."""


class OutputError(GabordiagError):
    """An output file that cannot be written (a full disk, a vanished directory)."""


class DependencyError(GabordiagError):
    """An optional dependency a command needs is not installed (the message says how
    to install it)."""
