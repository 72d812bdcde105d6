"""Hostile input, second round (issue 15): never destroy an input, never hang, never
leave litter.

Each section is one case of the issue. The CLI runs in-process through the one harness
(:func:`conftest.invoke`); signals are sent to real subprocesses in test_robustness.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_usage_error, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gabordiag.config import load_config
from gabordiag.config.paths import not_a_regular_file, read_regular_file
from gabordiag.errors import ConfigError

SMALL = ["--size", "32", "--ksize", "5", "--steps", "5"]
PROPERTY = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- inputs that are not regular files ----------------------------------------------------

@pytest.fixture
def odd_paths(tmp_path: Path) -> dict[str, Path]:
    """A directory, a FIFO, a symlink loop, a broken link and a device, by name."""
    paths = {"directory": tmp_path / "dir.toml", "fifo": tmp_path / "fifo.toml",
             "loop": tmp_path / "loop.toml", "broken": tmp_path / "broken.toml",
             "device": Path("/dev/zero")}
    paths["directory"].mkdir()
    os.mkfifo(paths["fifo"])
    paths["loop"].symlink_to(tmp_path / "loop2.toml")
    (tmp_path / "loop2.toml").symlink_to(paths["loop"])
    paths["broken"].symlink_to(tmp_path / "nowhere.toml")
    return paths


WORDS = {"directory": "is a directory", "fifo": "is a named pipe (FIFO)",
         "loop": "is a symbolic link loop", "broken": "is a broken symbolic link",
         "device": "is a character device"}


@pytest.mark.parametrize("kind", list(WORDS))
def test_a_config_that_is_not_a_regular_file_is_one_line_saying_what_it_is(odd_paths, kind):
    """/dev/zero read until 3.3 GB, a FIFO blocked forever (issue 15)."""
    path = odd_paths[kind]
    for command in (["recover", *SMALL], ["config", "show"]):
        message = assert_usage_error(invoke(*command, "--config", path), "--config", str(path))
        assert WORDS[kind] in message


@pytest.mark.parametrize("kind", list(WORDS))
def test_a_check_path_that_is_not_a_regular_file_says_what_it_is(odd_paths, kind):
    path = odd_paths[kind]
    if kind == "directory":  # a directory is searched; an empty one has nothing to check
        message = assert_usage_error(invoke("check", path), "PATH")
        assert "no .toml files" in message
        return
    message = assert_usage_error(invoke("check", path), "PATH", str(path))
    assert WORDS[kind] in message
    assert "does not exist" not in message


def test_a_fifo_named_toml_inside_a_checked_directory_is_refused_by_name(tmp_path):
    os.mkfifo(tmp_path / "a.toml")
    message = assert_usage_error(invoke("check", tmp_path), "a.toml")
    assert "named pipe" in message


@pytest.mark.parametrize("kind", ["directory", "fifo", "loop", "broken"])
def test_an_image_that_is_not_a_regular_file_says_what_it_is(tmp_path, kind):
    path = tmp_path / "picture.npy"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(tmp_path / "other.npy")
        (tmp_path / "other.npy").symlink_to(path)
    else:
        path.symlink_to(tmp_path / "nowhere.npy")
    message = assert_usage_error(invoke("recover", "--image", path, *SMALL), "--image")
    assert WORDS[kind] in message
    assert "does not exist" not in message


def test_a_png_renamed_npy_gets_our_message_not_numpys_pickle_hint(tmp_path):
    from PIL import Image

    png = tmp_path / "photo.png"
    Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(png)
    renamed = tmp_path / "photo.npy"
    renamed.write_bytes(png.read_bytes())
    message = assert_usage_error(invoke("recover", "--image", renamed, *SMALL), "--image")
    assert "PNG image" in message
    assert "photo.png" in message  # what to do
    assert "pickle" not in message


def test_a_config_over_1_mib_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    message = assert_usage_error(invoke("config", "show", "--config", path), "--config")
    assert "1 MiB" in message
    with pytest.raises(ValueError, match="larger than"):
        read_regular_file(path, limit=1000)


@pytest.mark.parametrize("opening", ["[", "{a = "])
@pytest.mark.parametrize("depth", [17, 300, 5000])
def test_a_deeply_nested_config_is_one_line_not_a_recursion_error(tmp_path, opening, depth):
    """a=[[[[...]]]] 5,000 deep was a RecursionError traceback (recover, check)."""
    closing = "]" if opening == "[" else "}"
    path = tmp_path / "deep.toml"
    path.write_text(f"a = {opening * depth}1{closing * depth}\n[expect]\nverdict = 'cycling'\n")
    for command in (["recover", *SMALL, "--config", path], ["check", path]):
        message = assert_usage_error(invoke(*command), str(path))
        assert "nest" in message or "not valid TOML" in message


@PROPERTY
@given(depth=st.integers(1, 40), table=st.booleans())
def test_nesting_is_bounded_whatever_the_depth(tmp_path, depth, table):
    path = tmp_path / "nested.toml"
    value = ("{x = " * depth + "1" + "}" * depth) if table else "[" * depth + "]" * depth
    path.write_text(f"unknownkey = {value}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_not_a_regular_file_in_words():
    assert not_a_regular_file("/dev/null") == "is a character device"
    assert not_a_regular_file("/") == "is a directory"
    assert not_a_regular_file("/no/such/thing") == "does not exist"
