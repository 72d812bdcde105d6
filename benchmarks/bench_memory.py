"""Peak memory of the largest request each command accepts.

Every command is started as a user starts it (the installed ``gabordiag`` entry point,
``--json`` output to a file) with the largest values today's limits allow, and its peak
resident memory and wall time are taken from the operating system's accounting of the
finished process (``wait4``). Nothing allowed may need more than 4 GiB.

The limits (README, "Requests beyond what is sensible here are refused up front"):
images up to 4096x4096 pixels, the fast engines' Gram matrix up to 512 MB (ksize 89),
landscapes up to 200,000 samples, sweeps up to 50 million descent steps (starts x
cases x steps), ``recover`` up to 1,000,000 steps, ``remedies`` and ``diagnose`` up to
10,000 starts.

Run: ``python benchmarks/bench_memory.py`` (about 15 minutes on 2 cores; ``--only
NAME`` for one request, ``--list`` to see them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_cli import GABORDIAG, Launcher, load  # noqa: E402

LIMIT_GIB = 4.0

# name -> (what it is the largest of, arguments)
REQUESTS: dict[str, tuple[str, list[str]]] = {
    "landscape": ("4096x4096 image, ksize 89 (the largest Gram matrix), 200,000 samples",
                  ["landscape", "--size", "4096", "--ksize", "89", "--loss", "mse",
                   "--points", "200000", "--json"]),
    # (at ksize 89 the same request is accepted too, but its 200,000 quadratic-form
    # evaluations of an 7921 x 7921 Gram matrix take hours; the memory is the same)
    "landscape-2d": ("4096x4096 image, ksize 31, 447 x 447 samples (theta, lambda)",
                     ["landscape", "--size", "4096", "--ksize", "31", "--loss", "mse",
                      "--param2", "lambda", "--points", "447", "--json"]),
    "basins": ("100,000 starts x 500 steps (50 million descent steps)",
               ["basins", "--starts", "100000", "--steps", "500", "--loss", "rmse",
                "--json"]),
    # a round number just under what the memory estimate accepts here (34,500 starts
    # are refused; the estimate, ~4.0 GiB, is about twice what such a sweep takes)
    "basins-large": ("34,000 starts x 1000 steps on a 4096x4096 image, ksize 89",
                     ["basins", "--size", "4096", "--ksize", "89", "--starts", "34000",
                      "--steps", "1000", "--loss", "mse", "--lr", "1e-5", "--json"]),
    "recover": ("1,000,000 steps", ["recover", "--steps", "1000000", "--json"]),
    "remedies": ("10,000 starts x 9 cases x 300 steps",
                 ["remedies", "--starts", "10000", "--json"]),
    "diagnose": ("10,000 starts", ["diagnose", "--starts", "10000", "--json"]),
    "gradcheck": ("4096x4096 image, ksize 255 (the direct engine, five parameters)",
                  ["gradcheck", "--size", "4096", "--ksize", "255", "--json"]),
    "kernel": ("ksize 255", ["kernel", "--size", "255", "--ksize", "255", "--json"]),
    "check": ("configs/ (the project's own expectations)",
              ["check", str(HERE.parent / "configs"), "--json"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(REQUESTS),
                        help="run only these requests (repeat)")
    parser.add_argument("--list", action="store_true", help="list the requests and exit")
    args = parser.parse_args()
    if args.list:
        for name, (what, argv) in REQUESTS.items():
            print(f"{name:13} {what}\n{'':13} gabordiag {' '.join(argv)}")
        return
    launcher = Launcher()
    floor = launcher.run(["/bin/true"]).peak_mib
    print(f"peak RSS of the largest requests (limit {LIMIT_GIB:g} GiB); {load()}; a peak "
          f"cannot read below the launcher's {floor:.0f} MiB")
    print(f"  {'request':<13} {'peak MiB':>9} {'wall s':>8}   what")
    worst = 0.0
    for name in args.only or list(REQUESTS):
        what, argv = REQUESTS[name]
        with tempfile.NamedTemporaryFile(prefix="bench-memory-", suffix=".json") as out:
            run = launcher.run([GABORDIAG, *argv], out.name)
            size = os.path.getsize(out.name)
        worst = max(worst, run.peak_mib)
        flag = "" if run.peak_mib <= LIMIT_GIB * 1024 else "  OVER THE LIMIT"
        print(f"  {name:<13} {run.peak_mib:9.0f} {run.wall:8.1f}   {what} "
              f"({size / 2**20:.1f} MiB of JSON){flag}", flush=True)
    print(f"largest peak: {worst:.0f} MiB ({worst / 1024:.2f} GiB; limit {LIMIT_GIB:g} GiB: "
          f"{'met' if worst <= LIMIT_GIB * 1024 else 'NOT MET'})")


if __name__ == "__main__":
    main()
