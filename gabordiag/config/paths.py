"""Input files: reading a regular file without hanging, and the file a code spec names
(no numpy).

Input files (a config, an image, a module) must be regular files: a named pipe would
block the read forever, ``/dev/zero`` never ends, a directory cannot be read
(:func:`gabordiag.io.not_a_regular_file` says what a path is instead).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..io import kind_of_mode, not_a_regular_file, words_of_error

__all__ = ["MAX_CONFIG_BYTES", "code_file", "not_a_regular_file", "read_regular_file"]

MAX_CONFIG_BYTES = 1 << 20  # a config file is a few hundred bytes; 1 MiB is generous


def read_regular_file(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises ``ValueError`` with words that follow the path ("is a named pipe (FIFO)",
    "is larger than 1 MiB") for anything else; the file is opened without blocking, so a
    pipe put in place of the file after a check cannot hang the read either.
    """
    words = not_a_regular_file(path)
    if words is not None:
        raise ValueError(words)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ValueError(words_of_error(path, exc)) from None
    try:
        kind = kind_of_mode(os.fstat(fd).st_mode)
        if kind is not None:
            raise ValueError(kind)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ValueError(f"is larger than {_size(limit)}, more than a config file needs")
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n:,} bytes"


def code_file(spec: str, folders: list[Path] | None = None) -> Path | None:
    """The file that ``--kernel``/``--derivative`` ``spec`` names, found without importing
    anything: ``path/file.py:function`` is that file; ``module:function`` is the
    ``module.py`` (or package ``__init__.py``) a top-level import would find first, in
    ``folders`` (default: the current directory, then ``sys.path``); ``None`` for a
    dotted or unknown name."""
    module, sep, _ = spec.rpartition(":")
    if not sep or not module:
        return None
    if module.endswith(".py"):
        return Path(module)
    if "." in module or not module.isidentifier():
        return None
    from importlib.machinery import PathFinder

    where = [str(f) for f in folders] if folders is not None else [os.getcwd(), *sys.path[1:]]
    try:
        found = PathFinder.find_spec(module, where)
    except (ImportError, OSError, ValueError):
        return None
    origin = getattr(found, "origin", None)
    return Path(origin) if origin and os.path.isfile(origin) else None
