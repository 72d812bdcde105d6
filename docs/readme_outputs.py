"""Regenerate (or check) the command outputs shown in README.md.

Every ```console block of the README that starts with ``$ gabordiag ...`` holds the
real output of that command, run from the repository's root on an 80-column terminal
(compared word by word, numbers to 2%: the last digit of a figure at the rounding level
may differ on another machine's BLAS).
``python docs/readme_outputs.py`` reruns each command and rewrites its block;
``python docs/readme_outputs.py --check`` only compares and exits 1 naming the blocks
that differ (the test suite runs this, so the README never shows stale numbers).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n\$ (gabordiag [^\n]*)\n(.*?)```", re.DOTALL)
# wall times a command prints ("(0.3 s)") vary from run to run: not compared
SECONDS = re.compile(r"\(\d+(?:\.\d+)? s\)")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# Numbers agree to this relative tolerance: the last printed digit of a figure computed
# to rounding (a kernel error of 5e-16, a fit residual) may differ on another CPU's BLAS.
RTOL = 0.02
ROUNDING = 1e-12  # two numbers both below this are both rounding


def _close(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    return (abs(x - y) <= RTOL * max(abs(x), abs(y))
            or max(abs(x), abs(y)) < ROUNDING)


def same(old: str, new: str) -> bool:
    """Whether two outputs agree: the same words, the same numbers to :data:`RTOL`, the
    wall times they print aside."""
    old, new = SECONDS.sub("(s)", old).split(), SECONDS.sub("(s)", new).split()
    if len(old) != len(new):
        return False
    for a, b in zip(old, new):
        if NUMBER.sub("#", a) != NUMBER.sub("#", b):
            return False
        if not all(_close(x, y) for x, y in zip(NUMBER.findall(a), NUMBER.findall(b))):
            return False
    return True


def run(command: str) -> str:
    """What ``command`` prints (stdout, then stderr) on an 80-column terminal."""
    env = {**os.environ, "COLUMNS": "80", "LINES": "50", "NO_COLOR": "1", "TERM": "dumb"}
    argv = [sys.executable, "-m", "gabordiag", *shlex.split(command)[1:]]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    return "".join(line.rstrip() + "\n" for line in (done.stdout + done.stderr).splitlines())


def refresh(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The README with every console block rerun, and the blocks that changed as
    (command, old, new)."""
    changed: list[tuple[str, str, str]] = []

    def replace(match: re.Match[str]) -> str:
        command, old = match.group(1), match.group(2)
        new = run(command)
        if same(old, new):
            return match.group(0)
        changed.append((command, old, new))
        return f"```console\n$ {command}\n{new}```"

    return BLOCK.sub(replace, text), changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare only; exit 1 if a block differs")
    args = parser.parse_args()
    text = README.read_text(encoding="utf-8")
    new_text, changed = refresh(text)
    for command, old, new in changed:
        print(f"{'differs' if args.check else 'updated'}: $ {command}")
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                "README.md", "output", n=1))
    if args.check:
        return 1 if changed else 0
    if changed:
        README.write_text(new_text, encoding="utf-8")
    print(f"{len(BLOCK.findall(text))} blocks, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
