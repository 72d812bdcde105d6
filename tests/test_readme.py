"""The README shows real output: every ``$ gabordiag ...`` console block is what that
command prints today (docs/readme_outputs.py reruns them; run it without --check to
refresh the README after changing an output)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_readme_outputs_are_what_the_commands_print() -> None:
    pytest.importorskip("torch")  # the README shows `gabordiag layer` too
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "readme_outputs.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_readme_check_tells_words_and_numbers_apart() -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from readme_outputs import same
    finally:
        sys.path.pop(0)
    assert same("loss 4.95 (0.3 s)", "loss 4.95 (1.2 s)")  # wall times aside
    assert same("error 5.3e-16 |", "error 4.1e-16 |")  # both at the rounding level
    assert same("curvature 3455.6001", "curvature 3455.6002")
    assert not same("curvature 3455.6", "curvature 3600.1")
    assert not same("cycling: never settles", "cycling: had not settled")
    assert not same("0% recovered", "1% recovered")
