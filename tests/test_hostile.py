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


# -- angles too large to mean anything ----------------------------------------------------

ANGLE_OPTIONS = ["--target-theta", "--theta0", "--psi", "--psi0"]


@PROPERTY
@given(option=st.sampled_from(ANGLE_OPTIONS),
       value=st.floats(1e6, 1e300, exclude_min=True), negative=st.booleans(),
       form=st.sampled_from(["{}", "{}deg", "{}*pi"]))
def test_an_angle_beyond_1e6_rad_is_refused_naming_its_option(option, value, negative, form):
    """--target-theta=1.8e16 blamed --range for a value the user gave as --target-theta
    (found by hypothesis): at that size float64 spaces angles 4 rad apart."""
    text = form.format(repr(-value if negative else value))
    if form == "{}deg" and value < 1e6 * 57.3:
        return  # within the bound once converted
    run = invoke("landscape", f"{option}={text}", "--size", "32", "--ksize", "5")
    message = assert_usage_error(run, option)
    assert "1e+06 rad" in message
    assert "--range" not in message


def test_an_angle_of_1e6_is_still_a_run_that_diverges_at_step_0_or_1():
    run = invoke("recover", "--json", *SMALL, "--theta0", "1e6", "--loss", "mse",
                 "--lr", "1e3")
    assert run.code == 0, run.describe()
    assert run.json()["verdict"]["kind"] == "diverged"


@pytest.mark.parametrize(("param", "span", "words"), [
    ("theta", "0,2e6", "1e+06 rad"), ("lambda", "1,2e6", "--lambda accepts"),
    ("lambda", "1,inf", "LOW < HIGH"), ("sigma", "0,5", "--sigma accepts")])
def test_a_range_is_checked_with_its_parameters_own_rules(param, span, words):
    run = invoke("landscape", "--param", param, "--range", span, "--size", "32", "--ksize", "5")
    message = assert_usage_error(run, "--range")
    assert words in message
