"""Output files: atomic writes, refusing non-regular files, I/O errors as one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import gabordiag.io
from gabordiag.cli import main
from gabordiag.errors import ConfigError
from gabordiag.io import check_output_path, write_text_atomic

SMALL = ["--size", "32", "--ksize", "5", "--steps", "5"]


def test_atomic_write_replaces_the_whole_file_with_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary left


def test_a_symlink_keeps_pointing_at_the_new_file(tmp_path: Path) -> None:
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink()
    assert target.read_text() == "new"


def test_a_pipe_is_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_path(fifo, "--csv")


def test_an_io_error_while_writing_is_one_line(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(source: str, target: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)

    monkeypatch.setattr(gabordiag.io.os, "replace", full_disk)
    code = main(["recover", *SMALL, "--csv", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("gabordiag: error: cannot write output:")
    assert "No space left on device" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_replacing_a_file_keeps_its_mode(tmp_path: Path) -> None:
    """A mode-600 output became 644 when it was replaced (issue 15)."""
    path = tmp_path / "secret.csv"
    path.write_text("old")
    path.chmod(0o600)
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_hard_link_keeps_the_old_content_as_the_readme_says(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old")
    other = tmp_path / "other-name.csv"
    os.link(path, other)
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert other.read_text() == "old"  # the rename gives `path` a new file


def test_an_output_through_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/full")
    with pytest.raises(ConfigError, match="character device"):
        check_output_path(link, "--csv")


@pytest.mark.parametrize(("option", "suffixes"), [("--plot", (".png", ".svg", ".pdf")),
                                                  ("--csv", None)])
def test_an_empty_output_path_names_no_file(option: str,
                                            suffixes: tuple[str, ...] | None) -> None:
    with pytest.raises(ConfigError, match=rf"^{option}: no file name given") as info:
        check_output_path(Path(""), option, suffixes)
    assert (".png" in str(info.value)) == (suffixes is not None)
