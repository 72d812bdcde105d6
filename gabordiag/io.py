"""Files: what a path names, in words; output files checked before any work, written
atomically, never over an input.

Input files must be regular files: a named pipe would block a read forever,
``/dev/zero`` never ends. :func:`not_a_regular_file` says what a path is instead ("is a
named pipe (FIFO)", "is a symbolic link loop"), so that an error never claims that an
existing thing "does not exist".

A crash, Ctrl-C, SIGTERM or SIGHUP leaves the old file or the complete new one, and no
temporary file. Replacing a file keeps its permission bits. A symbolic link is followed:
the file it points to is replaced and the link keeps pointing at it. A hard link is not
followed: the name given gets a new file, and the file's other names keep the old content
(as with any rename-based writer, e.g. ``git`` or an editor's "safe save").

A report directory is written whole or not at all: its files are made in a temporary
directory beside it and moved in at the end (:func:`atomic_directory`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, OutputError

__all__ = ["FIGURE_SUFFIXES", "Output", "atomic_directory", "atomic_path", "check_output_path",
           "check_outputs", "check_report_directory", "kind_of_mode", "make_directory",
           "not_a_regular_file", "same_file", "words_of_error", "write_atomic",
           "write_bytes_atomic", "write_text_atomic"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


# -- what a path names (inputs and outputs) ----------------------------------------------

_KINDS = ((stat.S_ISDIR, "is a directory"), (stat.S_ISFIFO, "is a named pipe (FIFO)"),
          (stat.S_ISCHR, "is a character device"), (stat.S_ISBLK, "is a block device"),
          (stat.S_ISSOCK, "is a socket"))


def kind_of_mode(mode: int) -> str | None:
    """``None`` for a regular file's mode; else what the file is, in words."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) else "is not a regular file"


def not_a_regular_file(path: Path | str) -> str | None:
    """``None`` when ``path`` is (or links to) a regular file; else what it is, in words.

    Examples
    --------
    >>> not_a_regular_file("/dev/null")
    'is a character device'
    >>> not_a_regular_file("/no/such/file")
    'does not exist'
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return words_of_error(Path(path), exc)
    return kind_of_mode(mode)


def words_of_error(path: Path, exc: OSError) -> str:
    """What an ``os.stat`` failure says about ``path``, in words."""
    if exc.errno == errno.ELOOP:
        return "is a symbolic link loop"
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return "does not exist"
    if exc.errno == errno.ENOTDIR:
        return "does not exist (a part of the path is not a directory)"
    if exc.errno == errno.ENAMETOOLONG:
        return "is a name too long for the file system"
    return f"cannot be read: {exc.strerror or exc}"


# -- outputs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Output:
    """An output file of a run: the option that names it, the path, allowed suffixes."""

    option: str
    path: Path
    suffixes: tuple[str, ...] | None = None


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: through symbolic links, to the end."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_output_path(path: Path, option: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """Fail early (before any work) when an output file could not be written: a bad
    suffix, a missing or read-only directory, a directory, device, pipe or link loop in
    the file's place."""
    if str(path) in ("", "."):
        raise ConfigError(f"{option}: no file name given (the path is empty or '.'); "
                          "give a file name"
                          + (f" ending in {', '.join(suffixes)}" if suffixes else ""))
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option}: {path} must end in one of {', '.join(suffixes)}")
    words = not_a_regular_file(path)
    if words is not None and not words.startswith(("does not exist", "is a broken")):
        # a device or pipe must not be replaced (nor written to: /dev/full), a directory
        # cannot be, and a link loop has no file at its end
        raise ConfigError(f"{option}: {path} {words}, not a regular file; give a file "
                          "name to write")
    target = _target(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: directory {parent} is not writable")
    return path


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same inode (hard links, ``./x`` and
    ``x``, links) or, for files not yet written, the same resolved path."""
    with contextlib.suppress(OSError):
        if os.path.samefile(a, b):
            return True
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Iterable[Output], inputs: Iterable[tuple[str, Path]] = ()
                  ) -> None:
    """Check every output before any work: writable (:func:`check_output_path`), none of
    them an input of the run (``inputs``: option -> path), no two of them one file.

    Raises :class:`ConfigError` naming both options."""
    seen: list[Output] = []
    sources = list(inputs)
    for out in outputs:
        check_output_path(out.path, out.option, out.suffixes)
        for option, source in sources:
            if same_file(out.path, source):
                alias = f" ({source})" if str(source) != str(out.path) else ""
                raise ConfigError(f"{out.option}: {out.path} is the {option} input of this "
                                  f"run{alias}; writing it would destroy the input; give "
                                  "the output another name")
        for other in seen:
            if same_file(out.path, other.path):
                raise ConfigError(f"{out.option}: {out.path} is also the {other.option} "
                                  "output; give each output its own file")
        seen.append(out)


def check_report_directory(directory: Path, option: str, names: Iterable[str],
                           inputs: Iterable[tuple[str, Path]] = (),
                           outputs: Iterable[Output] = ()) -> None:
    """Check a report directory before any work: a directory (or nothing yet) in a
    writable place, and each file it will hold (``names``) writable, not a device or a
    pipe (also through a link), not an input of the run and not another output."""
    words = not_a_regular_file(directory)
    if words is None:
        raise ConfigError(f"{option}: {directory} is a file; give a directory")
    if words != "is a directory" and not words.startswith("does not exist"):
        raise ConfigError(f"{option}: {directory} {words}; give a directory")
    if words == "is a directory":
        if not os.access(directory, os.W_OK | os.X_OK):
            raise ConfigError(f"{option}: directory {directory} is not writable")
        files = [Output(option, directory / name) for name in names]
        check_outputs([*outputs, *files], inputs)
        return
    ancestor = _existing_ancestor(directory)
    if not ancestor.is_dir():
        raise ConfigError(f"{option}: {ancestor} is not a directory; cannot create {directory}")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{option}: directory {ancestor} is not writable; cannot create "
                          f"{directory}")
    for name in names:  # a new directory holds no input, but an output may be named in it
        for out in outputs:
            if same_file(out.path, directory / name):
                raise ConfigError(f"{out.option}: {out.path} is also a file of the "
                                  f"{option} directory; give each output its own file")


def _existing_ancestor(path: Path) -> Path:
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _mode_for(target: Path) -> int:
    """The permission bits of the file being replaced, else the usual ones (umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP for a moment (the renames that publish finished
    outputs), so that an interrupt lands before or after them, never between."""
    held = {signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # not on this platform or thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) that replaces it on success, with
    the replaced file's permission bits (through a symbolic link: the file it points to
    is replaced, not the link)."""
    target = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix,
                                   dir=target.parent if str(target.parent) else ".")
    except OSError as exc:  # name the user's file, not the temporary one
        raise _output_error(path, exc) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600
        with _signals_held():
            os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise _output_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(directory: Path) -> Iterator[Path]:
    """A temporary directory whose files, on success, make up ``directory``.

    A new ``directory`` is the temporary one renamed (it appears whole); in an existing
    one each file replaces its namesake (keeping its permission bits; a symbolic link is
    followed), all after every file was written. On an error or an interrupt nothing
    changes and the temporary directory is removed."""
    exists = directory.is_dir()
    home = directory if exists else _existing_ancestor(directory)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name or 'report'}.", dir=home))
    except OSError as exc:
        raise _output_error(directory, exc) from None
    try:
        yield tmp
        if exists:
            _move_files_into(tmp, directory)
        else:
            directory.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
            with _signals_held():
                os.rename(tmp, directory)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _output_error(directory, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # empty once the files moved in


def _move_files_into(tmp: Path, directory: Path) -> None:
    moves = []
    for made in sorted(tmp.iterdir()):
        target = _target(directory / made.name)
        if target.parent.resolve() != directory.resolve():  # a link out of the directory
            staged = Path(tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)[1])
            shutil.copyfile(made, staged)
            made = staged
        os.chmod(made, _mode_for(target))
        moves.append((made, target))
    try:
        with _signals_held():
            for made, target in moves:
                os.replace(made, target)
    except BaseException:
        for made, _ in moves:
            with contextlib.suppress(FileNotFoundError):
                if made.parent != tmp:
                    os.unlink(made)
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
