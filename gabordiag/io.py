"""Atomic output files: a crash or Ctrl-C leaves the old file or the complete new one."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ConfigError, OutputError

__all__ = ["FIGURE_SUFFIXES", "atomic_path", "check_output_path", "make_directory", "write_atomic",
           "write_bytes_atomic", "write_text_atomic"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def check_output_path(path: Path, option: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """Fail early (before any work) when an output file could not be written."""
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option}: {path} must end in one of {', '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option}: directory {parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"{option}: {path} is a directory")
    if path.exists() and not path.is_file():  # a device or pipe must not be replaced
        raise ConfigError(f"{option}: {path} exists and is not a regular file")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option}: directory {parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that replaces it on success
    (through a symbolic link: the file it points to is replaced, not the link)."""
    import tempfile  # only when a file is written

    target = path.resolve() if path.is_symlink() else path
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix,
                                   dir=target.parent if str(target.parent) else ".")
    except OSError as exc:  # name the user's file, not the temporary one
        raise _output_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise _output_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _output_error(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write output: {path}: {exc.strerror or exc}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary file, then move it to ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)


def make_directory(path: Path) -> None:
    """``mkdir -p``; a failure is an :class:`OutputError` naming the directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(path, exc) from None
