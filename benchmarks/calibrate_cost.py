"""Calibration of the cost model: each case's estimated time against its measured time.

The limits (``gabordiag.analysis.cost``: 10 minutes, 4 GiB) are checked against
estimates built from per-unit constants in ``gabordiag.engines.choice`` (a direct FFT
evaluation per pixel log pixel, a Gram entry, a spectral point, a descent step, judging a
run ...). This runs one representative request per engine and path, in a fresh
process each (so that the peak memory is the request's own), and prints the estimate,
the measured wall time and peak memory, and their ratio. A ratio above 1 means the
estimate was high (safe); well below 1, the constants need raising.

Run: ``python benchmarks/calibrate_cost.py`` (about 2 minutes; ``--quick`` for the
four fastest cases).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

# (name, command) -- each a request the tool accepts, each a different path of the model
CASES = [
    ("recover, spectral, 100k steps", ["recover", "--steps", "100000"]),
    ("recover, direct l1", ["recover", "--loss", "l1", "--steps", "300"]),
    ("recover, quadratic 2 params", ["recover", "--loss", "mse", "--learn", "theta,sigma",
                                     "--ksize", "41", "--steps", "2000"]),
    ("landscape, spectral", ["landscape", "--points", "20000"]),
    ("landscape, direct l1", ["landscape", "--loss", "l1", "--size", "256"]),
    ("basins 20000 x 2000", ["basins", "--starts", "20000", "--steps", "2000"]),
    ("basins 100000 x 500", ["basins", "--starts", "100000", "--steps", "500"]),
    ("basins l1, direct", ["basins", "--loss", "l1", "--starts", "72", "--steps", "200"]),
    ("remedies", ["remedies", "--starts", "360"]),
    ("diagnose", ["diagnose"]),
    ("gradcheck", ["gradcheck", "--random", "20"]),
]
QUICK = ("recover, direct l1", "landscape, spectral", "remedies", "diagnose")

_CHILD = """
import json, sys, time
from gabordiag.cli import main

args = sys.argv[1:]
start = time.perf_counter()
code = main([*args, "--json"])
seconds = time.perf_counter() - start
# VmHWM, not getrusage's ru_maxrss: Linux keeps that across exec (the parent's peak)
peak = [int(line.split()[1]) * 1024 for line in open("/proc/self/status")
        if line.startswith("VmHWM:")][0]
print(json.dumps({"code": code, "seconds": seconds, "peak": peak}), file=sys.stderr)
"""

_ESTIMATE = """
import json, sys
from gabordiag.analysis import cost
from gabordiag.analysis.study import Study
from gabordiag.config import resolve_config

command, *rest = sys.argv[1:]
options, extra = {}, {}
i = 0
while i < len(rest):
    key = rest[i][2:]
    value = rest[i + 1]
    (extra if key in ("starts", "points", "random") else options)[key] = value
    i += 2
study = Study(resolve_config(options)[0])
c = study.config
if command == "recover":
    estimate = cost.recover_cost(study)
elif command == "landscape":
    estimate = cost.landscape_cost(study, points=int(extra.get("points", 720)))
elif command == "basins":
    estimate = cost.basins_cost(study, int(extra.get("starts", 360)),
                                [(c.loss, c.optimizer, c.lr)])
elif command == "remedies":
    estimate = cost.remedies_cost(study, int(extra.get("starts", 72)))
elif command == "diagnose":
    estimate = cost.diagnose_cost(study, int(extra.get("starts", 72)))
else:
    estimate = cost.gradcheck_cost(study, int(extra.get("random", 5)))
print(json.dumps({"seconds": estimate.seconds, "bytes": estimate.bytes}))
"""


def measure(args: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """The model's estimate and the measured run of one request."""
    estimated = json.loads(subprocess.run([sys.executable, "-c", _ESTIMATE, *args],
                                          capture_output=True, text=True, check=True).stdout)
    run = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                         text=True, check=False)
    measured = json.loads(run.stderr.strip().splitlines()[-1])
    return estimated, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the fastest cases")
    options = parser.parse_args()
    print(f"{'case':34} {'estimate':>9} {'measured':>9} {'ratio':>6} {'est. MB':>8} "
          f"{'peak MB':>8}")
    for name, args in CASES:
        if options.quick and name not in QUICK:
            continue
        estimated, measured = measure(args)
        ratio = estimated["seconds"] / max(measured["seconds"], 1e-9)
        print(f"{name:34} {estimated['seconds']:8.1f}s {measured['seconds']:8.1f}s "
              f"{ratio:6.2f} {estimated['bytes'] / 2**20:8.0f} {measured['peak'] / 2**20:8.0f}"
              + ("" if measured["code"] == 0 else f"  (exit {measured['code']})"))


if __name__ == "__main__":
    main()
