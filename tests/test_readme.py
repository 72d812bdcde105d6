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
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "readme_outputs.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
