"""Every command of the README timed from process start, next to PyTorch doing the same work.

Each gabordiag command is started as a user starts it: the installed ``gabordiag``
entry point in a new process, ``--json`` output to a file, timed from the process's
start to its exit (wall time, and its CPU time and peak memory from the operating
system's accounting of the finished child). Every figure is the median of ``--runs``
runs after one warm-up run.

On three parameter sets (more with ``--sets``),

* ``landscape``: ``gabordiag landscape --loss mse --points 3600 --json`` (loss,
  gradient, curvature at 3600 angles over one period, and every stationary point)
  against PyTorch float64 computing the loss, the autograd gradient and the
  double-backward curvature at the same 3600 angles (batched conv2d);
* ``sweep``: ``gabordiag basins --loss mse --lr 1e-4 --starts 3600 --steps 1000
  --json`` (3600 descents of 1000 SGD steps, judged) against PyTorch float32 doing
  the same descents batched (conv2d, autograd, ``torch.optim.SGD``). Torch is too slow
  to run 1000 steps: ``--torch-steps`` steps are timed and their median is multiplied
  by 1000 (the output says so).

The torch times leave out torch's own start-up (import, set-up, a warm-up call): only
its computation is timed, which favours torch. Both sides are checked to compute the
same numbers before their speeds are compared. Where a landscape ratio falls short of
its goal, the script also times the interpreter importing numpy, the least any command
can take, next to what the goal would need.

Then every other command of the README on each parameter set (the CPU-time goals on the
reference case), ``gabordiag --help`` and
``gabordiag recover --help`` against a bare two-command typer app's ``--help``
(``bare_typer_app.py``; ratios taken run by run, the two commands alternating), and
whether printing help imports numpy, scipy or matplotlib. The goals of issue 14 are
printed next to each ratio.

Run: ``python benchmarks/bench_cli.py`` (about 17 minutes, torch takes most; ``--quick``
for a smoke run with fewer runs and torch work extrapolated from fewer points).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
GABORDIAG = str(BIN / "gabordiag")  # --gabordiag changes it (another install to time)

# name -> (options, description)
SETS: dict[str, tuple[list[str], str]] = {
    "reference": (["--size", "128", "--ksize", "21", "--sigma", "4", "--lambda", "10"],
                  "128x128 pink seed 5, ksize 21, sigma 4, lambda 10"),
    "wide": (["--size", "256", "--ksize", "31", "--sigma", "6", "--lambda", "8"],
             "256x256 pink seed 5, ksize 31, sigma 6, lambda 8"),
    "large": (["--size", "512", "--ksize", "21", "--sigma", "4", "--lambda", "10"],
              "512x512 pink seed 5, ksize 21, sigma 4, lambda 10"),
    "bench256": (["--size", "256", "--ksize", "31", "--sigma", "4", "--lambda", "10",
                  "--seed", "0"],
                 "256x256 pink seed 0, ksize 31, sigma 4, lambda 10 (bench_landscape's)"),
}
LANDSCAPE = ["landscape", "--loss", "mse", "--points", "3600", "--json"]
SWEEP_STEPS = 1000
SWEEP_LR = 1e-4
SWEEP = ["basins", "--loss", "mse", "--lr", str(SWEEP_LR), "--starts", "3600", "--steps",
         str(SWEEP_STEPS), "--json"]
# Every other command of the README, on the reference case (the defaults), with goals
# on CPU seconds where issue 14 sets one.
COMMANDS: list[tuple[str, list[str], float | None]] = [
    ("recover", ["recover", "--json"], None),
    ("landscape", ["landscape", "--json"], None),
    ("basins", ["basins", "--json"], None),
    ("remedies", ["remedies", "--json"], 0.5),
    ("diagnose", ["diagnose", "--json"], 1.0),
    ("gradcheck", ["gradcheck", "--json"], None),
    ("check configs/", ["check", str(ROOT / "configs"), "--json"], 1.0),
    ("kernel", ["kernel", "--json"], None),
    ("config show", ["config", "show"], None),
]
GOAL_LANDSCAPE = 100.0
GOAL_SWEEP = 1000.0
GOAL_HELP = 1.5
GOAL_COMMAND_HELP = 2.0


# -- processes ---------------------------------------------------------------------------

@dataclass
class Run:
    """One finished process: wall seconds, CPU seconds (user + system), peak RSS (MiB)."""

    wall: float
    cpu: float
    peak_mib: float


class Launcher:
    """Starts commands through ``_spawn.py``, a small separate process, so that their
    peak memory is their own (a child of this process, with torch loaded, would
    inherit its peak RSS until it execs)."""

    def __init__(self) -> None:
        import subprocess

        self.process = subprocess.Popen([sys.executable, str(HERE / "_spawn.py")],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        assert self.process.stdout is not None
        self.floor_mib = json.loads(self.process.stdout.readline())["floor_mib"]

    def run(self, argv: list[str], stdout: str = os.devnull) -> Run:
        """Start ``argv`` (stdout to ``stdout``), wait for it, and return its figures."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps({"argv": argv, "stdout": stdout}) + "\n")
        answer = json.loads(self.process.stdout.readline())
        if answer["code"] not in (0, 1):  # check and gradcheck exit 1 when a check fails
            raise RuntimeError(f"{' '.join(argv)} exited {answer['code']}:\n"
                               f"{answer['stderr']}")
        return Run(answer["wall"], answer["cpu"], answer["peak_mib"])


_LAUNCHER: Launcher | None = None


def launcher_floor() -> float:
    """The least a child's peak RSS can read (MiB): that of ``/bin/true`` started by the
    launcher (a child shares the launcher's memory until it execs)."""
    return run_once(["/bin/true"]).peak_mib


def run_once(argv: list[str], stdout: str = os.devnull) -> Run:
    """One run of ``argv`` from process start to exit (stdin empty)."""
    global _LAUNCHER
    if _LAUNCHER is None:
        _LAUNCHER = Launcher()
    return _LAUNCHER.run(argv, stdout)


@dataclass
class Timing:
    """Runs of one command; figures are medians."""

    runs: list[Run]

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def peak_mib(self) -> float:
        return max(r.peak_mib for r in self.runs)

    def spread(self) -> str:
        walls = [r.wall for r in self.runs]
        return f"{min(walls):.3f}..{max(walls):.3f}"


def time_command(argv: list[str], runs: int, stdout: str = os.devnull,
                 warmup: bool = True) -> Timing:
    """``runs`` timed runs after a warm-up run (which fills the file caches)."""
    if warmup:
        run_once(argv, stdout)
    return Timing([run_once(argv, stdout) for _ in range(runs)])


def paired_ratios(a: list[str], b: list[str], pairs: int) -> tuple[Timing, Timing, float,
                                                                   float]:
    """A and B alternating (A B A B ...): their timings and the medians of the run-by-run
    ratios A/B of wall and CPU time (pairing cancels the machine's drift)."""
    run_once(a)
    run_once(b)
    runs_a, runs_b = [], []
    for _ in range(pairs):
        runs_a.append(run_once(a))
        runs_b.append(run_once(b))
    wall = statistics.median(x.wall / y.wall for x, y in zip(runs_a, runs_b, strict=True))
    cpu = statistics.median(x.cpu / y.cpu for x, y in zip(runs_a, runs_b, strict=True))
    return Timing(runs_a), Timing(runs_b), wall, cpu


def gabordiag(*args: str) -> list[str]:
    return [GABORDIAG, *args]


# -- the torch peers -----------------------------------------------------------------------

def set_params(options: list[str]) -> dict[str, float]:
    """The values of a parameter set's options (with gabordiag's defaults)."""
    values = {"size": 128.0, "ksize": 21.0, "sigma": 4.0, "lambda": 10.0, "seed": 5.0,
              "gamma": 0.5, "psi": 0.0}
    for flag, value in zip(options[::2], options[1::2], strict=True):
        values[flag.lstrip("-")] = float(value)
    return values


def make_layer(torch: Any, p: dict[str, float], dtype: Any) -> tuple[Any, Any]:
    """The torch layer of a parameter set and its target output (the image is
    gabordiag's, standardised, as the command line makes it)."""
    from _torch_gabor import TorchGabor

    from gabordiag.core.images import make_image

    image = make_image("pink", size=int(p["size"]), seed=int(p["seed"]))
    layer = TorchGabor(torch, image, int(p["ksize"]), lambd=p["lambda"], sigma=p["sigma"],
                       gamma=p["gamma"], psi=p["psi"], dtype=dtype)
    target = layer.outputs(torch.tensor([math.pi / 4], dtype=dtype))[0].detach()
    return layer, target


def torch_landscape(torch: Any, p: dict[str, float], grid: np.ndarray, points: int
                    ) -> tuple[float, float, bool, tuple[np.ndarray, ...]]:
    """Loss, autograd gradient and double-backward curvature (float64) at the angles
    of ``grid``, batched; wall and CPU seconds (all torch's threads) for all of them
    (extrapolated when only ``points`` of them are computed), whether extrapolated, and
    the values computed."""
    layer, target = make_layer(torch, p, torch.float64)
    out_pixels = (int(p["size"]) - int(p["ksize"]) + 1) ** 2
    chunk = max(1, min(200, 25_000_000 // out_pixels))

    def evaluate(angles: np.ndarray) -> tuple[np.ndarray, ...]:
        theta = torch.tensor(angles, dtype=torch.float64, requires_grad=True)
        mse = layer.mse(theta, target)
        # each angle only affects its own loss: the gradient of the sum is the per-angle
        # gradient, and its gradient the Hessian's diagonal
        (grad,) = torch.autograd.grad(mse.sum(), theta, create_graph=True)
        (curv,) = torch.autograd.grad(grad.sum(), theta)
        return mse.detach().numpy(), grad.detach().numpy(), curv.numpy()

    evaluate(grid[:2])  # warm-up: allocator, kernels
    subset = grid[:points]
    parts = []
    start, start_cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(subset), chunk):
        parts.append(evaluate(subset[first:first + chunk]))
    scale = len(grid) / len(subset)
    seconds = (time.perf_counter() - start) * scale
    cpu = (time.process_time() - start_cpu) * scale
    values = tuple(np.concatenate([part[i] for part in parts]) for i in range(3))
    return seconds, cpu, len(subset) < len(grid), values


def torch_sweep(torch: Any, p: dict[str, float], starts: np.ndarray, steps: int
                ) -> tuple[list[float], list[float], np.ndarray]:
    """Float32 SGD descents of the MSE from ``starts``, all batched: the wall and CPU
    seconds (all torch's threads) of each of ``steps`` steps and the angles after them."""
    layer, target = make_layer(torch, p, torch.float32)
    out_pixels = (int(p["size"]) - int(p["ksize"]) + 1) ** 2
    chunk = max(1, min(600, 30_000_000 // out_pixels))
    theta = torch.tensor(starts, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=SWEEP_LR)

    def step() -> None:
        optimizer.zero_grad()
        for first in range(0, len(starts), chunk):  # bounded memory, the same arithmetic
            layer.mse(theta[first:first + chunk], target).sum().backward()
        optimizer.step()

    with torch.no_grad():  # warm-up on a copy: the timed steps start from `starts`
        layer.mse(theta[:chunk].detach(), target)
    times, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu, theta.detach().numpy().astype(np.float64)


def our_descents(options: list[str], starts: np.ndarray, steps: int) -> np.ndarray:
    """gabordiag's angles after ``steps`` steps of the sweep (in-process), for the
    comparison with torch's."""
    from gabordiag.analysis.study import Study
    from gabordiag.config import resolve_config
    from gabordiag.descent.runner import run_descents

    raw = dict(zip((o.lstrip("-") for o in options[::2]), options[1::2], strict=True))
    config, _ = resolve_config({**raw, "loss": "mse", "lr": str(SWEEP_LR), "steps": str(steps)})
    engine = Study(config).engine(evaluations=len(starts) * steps)
    return run_descents(engine, config.optimizer_settings, starts[:, None], steps).params[-1, :, 0]


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


# -- reporting -------------------------------------------------------------------------------

def goal(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        memory = "RAM unknown"
    import scipy

    return (f"{platform.machine()} {model}, {os.cpu_count()} cores, {memory}; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def target_python() -> str:
    """The interpreter of the ``gabordiag`` being timed (beside its entry point)."""
    candidate = Path(GABORDIAG).parent / "python"
    return str(candidate) if candidate.exists() else sys.executable


def compile_bytecode() -> str:
    """Compile the timed package's bytecode, as ``pip install`` does: an editable
    install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module on
    every start."""
    import subprocess

    code = ("import compileall, os, gabordiag; d = os.path.dirname(gabordiag.__file__); "
            "print(d if compileall.compile_dir(d, quiet=1) else 'FAILED ' + d)")
    done = subprocess.run([target_python(), "-c", code], capture_output=True, text=True)
    return f"compiled ({done.stdout.strip() or done.stderr.strip()[-200:]})"


def time_commands(name: str, runs: int, summary: list[tuple[str, str, str]]) -> None:
    """Every command of the README with its defaults (the reference case, with the CPU
    goals of issue 14) or on parameter set ``name`` (the set's options added; ``check``
    reads its own files, so it runs on the reference only)."""
    reference = name == "reference"
    options = [] if reference else SETS[name][0]
    print(f"== every command of the README on the {name} set"
          + (" (the defaults)" if reference else f" ({' '.join(options)})") + ", --json")
    print(f"  {'command':<16} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9}   goal")
    for label, argv_tail, cpu_goal in COMMANDS:
        if not reference and argv_tail[0] == "check":
            continue
        timing = time_command(gabordiag(*argv_tail, *options), runs)
        target = ""
        if cpu_goal is not None and reference:
            target = f"CPU <= {cpu_goal:g} s: {goal(timing.cpu <= cpu_goal)}"
            summary.append((f"{label} CPU", f"{timing.cpu:.3f} s",
                            f"<= {cpu_goal:g} s {goal(timing.cpu <= cpu_goal)}"))
        print(f"  {label:<16} {timing.wall:8.3f} {timing.cpu:8.3f} "
              f"{timing.peak_mib:9.0f}   {target}")
    print()


_FLOOR: float | None = None


def startup_floor(runs: int) -> float:
    """Median wall seconds of the target interpreter importing numpy and exiting (BLAS
    pinned to one thread, as ``gabordiag.cli`` does): no command can start faster."""
    global _FLOOR
    if _FLOOR is None:
        code = ("import os\n"
                "for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):\n"
                "    os.environ[v] = '1'\n"
                "import numpy")
        _FLOOR = time_command([target_python(), "-c", code], max(runs, 5)).wall
    return _FLOOR


def help_imports() -> list[str]:
    """Heavy modules imported to print ``--help`` and ``recover --help``."""
    heavy: set[str] = set()
    for argv in (["--help"], ["recover", "--help"]):
        with tempfile.NamedTemporaryFile(prefix="bench-imports-", delete=False) as log:
            path = log.name
        actions = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 2, path, os.O_WRONLY | os.O_TRUNC, 0o644)]
        python = target_python()
        pid = os.posix_spawn(python, [python, "-X", "importtime", "-m", "gabordiag", *argv],
                             os.environ, file_actions=actions)
        os.waitpid(pid, 0)
        for line in Path(path).read_text().splitlines():
            name = line.rsplit("|", 1)[-1].strip()
            if name.split(".")[0] in ("numpy", "scipy", "matplotlib"):
                heavy.add(name.split(".")[0])
        os.unlink(path)
    return sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    parser.add_argument("--sets", default="reference,wide,large",
                        help=f"parameter sets, comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--torch-steps", type=int, default=5,
                        help="sweep steps timed in torch (their median x 1000)")
    parser.add_argument("--torch-points", type=int, default=3600,
                        help="landscape angles computed by torch (fewer: extrapolated)")
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--skip-commands", action="store_true",
                        help="only the landscape and sweep comparisons")
    parser.add_argument("--gabordiag", metavar="PATH",
                        help="the gabordiag entry point to time (default: this venv's); e.g. "
                        "another checkout's, for a before/after table")
    parser.add_argument("--no-compile", action="store_true",
                        help="leave gabordiag's bytecode as it is (by default it is compiled "
                        "first, as an installation does)")
    parser.add_argument("--quick", action="store_true",
                        help="3 runs, 2 torch steps, 400 torch angles: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.torch_steps, args.torch_points = 3, 2, 400
    if args.gabordiag:
        global GABORDIAG
        GABORDIAG = str(Path(args.gabordiag).absolute())
    sets = args.sets.split(",")
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {unknown}; known: {', '.join(SETS)}")

    compiled = compile_bytecode() if not args.no_compile else "not compiled (--no-compile)"
    torch = None
    if not args.no_torch:
        sys.path.insert(0, str(HERE))
        from _torch_gabor import load_torch

        torch = load_torch()
        if torch is not None:
            torch.set_num_threads(args.torch_threads)
    print(f"gabordiag from process start vs PyTorch; {datetime.date.today().isoformat()}; "
          f"timing {GABORDIAG}")
    print(f"machine: {machine()}"
          + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch
             else ""))
    print(f"at start: {load()}; gabordiag's bytecode: {compiled}")
    print(f"each gabordiag figure: median of {args.runs} runs from process start "
          f"(after one warm-up run), min..max in brackets; peak memory is the process's "
          f"peak RSS (it cannot read below the launcher's own, {launcher_floor():.0f} MiB)\n")

    summary: list[tuple[str, str, str]] = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    for name in sets:
        options, description = SETS[name]
        p = set_params(options)
        print(f"== {name}: {description}, gamma 0.5, psi 0, target pi/4, mse")

        # the landscape: our runs on both sides of torch's, against drift
        out = str(scratch / f"{name}-landscape.json")
        argv = gabordiag(*LANDSCAPE, *options)
        first = time_command(argv, args.runs - args.runs // 2, out)
        data = json.loads(Path(out).read_text())
        grid = np.array(data["grid"])
        line = (f"  landscape, 3600 angles + {len(data['stationary_points'])} stationary "
                f"points: gabordiag")
        if torch is not None:
            seconds, cpu, extrapolated, values = torch_landscape(torch, p, grid,
                                                                 args.torch_points)
        ours = Timing(first.runs + time_command(argv, args.runs // 2, out, False).runs)
        print(f"{line} {ours.wall:.3f} s [{ours.spread()}] wall, {ours.cpu:.3f} s CPU, "
              f"peak {ours.peak_mib:.0f} MiB")
        if torch is not None:
            n = len(values[0])
            errors = [relative_error(values[i], np.array(data[key])[:n])
                      for i, key in enumerate(("loss", "grad", "curvature"))]
            ratio = seconds / ours.wall
            threads = torch.get_num_threads()
            print(f"  torch float64 conv2d + autograd + double backward: {seconds:.2f} s"
                  + (f" (EXTRAPOLATED from {n} of 3600 angles)" if extrapolated else "")
                  + f"; {cpu:.2f} s CPU on {threads} threads")
            print("    torch vs gabordiag, max error / max |value|: loss {:.1e}, gradient "
                  "{:.1e}, curvature {:.1e}".format(*errors))
            print(f"  ratio torch / gabordiag landscape: {ratio:.1f}x (goal >= "
                  f"{GOAL_LANDSCAPE:.0f}x: {goal(ratio >= GOAL_LANDSCAPE)}); torch's CPU "
                  f"time over its {threads} threads (what it would take with both free) vs "
                  f"gabordiag's CPU time: {cpu / threads / ours.cpu:.1f}x")
            if ratio < GOAL_LANDSCAPE:
                floor = startup_floor(args.runs)
                print(f"  start-up floor: the interpreter importing numpy (one BLAS thread, as "
                      f"the CLI) takes {floor:.3f} s; {GOAL_LANDSCAPE:.0f}x would need "
                      f"{seconds / GOAL_LANDSCAPE:.3f} s from process start"
                      + (", less than that floor" if seconds / GOAL_LANDSCAPE < floor else ""))
            summary.append((f"landscape {name}", f"{ratio:.1f}x",
                            f">= {GOAL_LANDSCAPE:.0f}x {goal(ratio >= GOAL_LANDSCAPE)} "
                            f"(CPU bound {cpu / threads / ours.cpu:.0f}x)"))

        # the sweep
        out = str(scratch / f"{name}-basins.json")
        argv = gabordiag(*SWEEP, *options)
        first = time_command(argv, args.runs - args.runs // 2, out)
        data = json.loads(Path(out).read_text())
        starts = np.array(data["starts"])
        if torch is not None:
            step_times, step_cpu, angles = torch_sweep(torch, p, starts, args.torch_steps)
        ours = Timing(first.runs + time_command(argv, args.runs // 2, out, False).runs)
        summary_case = data["cases"][0]["summary"]
        print(f"  sweep, 3600 starts x {SWEEP_STEPS} steps (lr {SWEEP_LR:g}), judged: "
              f"gabordiag {ours.wall:.3f} s [{ours.spread()}] wall, {ours.cpu:.3f} s CPU, "
              f"peak {ours.peak_mib:.0f} MiB; {summary_case['success_rate']:.0%} recover")
        if torch is not None:
            step = statistics.median(step_times)
            seconds = step * SWEEP_STEPS
            ratio = seconds / ours.wall
            drift = float(np.max(np.abs(angles - our_descents(options, starts,
                                                              args.torch_steps))))
            print(f"  torch float32 conv2d + autograd + SGD: {seconds:.1f} s ESTIMATED "
                  f"(median of {args.torch_steps} timed steps {step:.3f} s, fastest "
                  f"{min(step_times):.3f} s, x {SWEEP_STEPS})")
            print(f"    after {args.torch_steps} steps: max |theta_torch - theta_gabordiag| "
                  f"= {drift:.1e} rad (float32 vs float64)")
            threads = torch.get_num_threads()
            cpu_bound = statistics.median(step_cpu) * SWEEP_STEPS / threads / ours.cpu
            print(f"  ratio torch / gabordiag sweep: {ratio:.0f}x (goal >= {GOAL_SWEEP:.0f}x: "
                  f"{goal(ratio >= GOAL_SWEEP)}); torch's CPU time over its {threads} threads "
                  f"vs gabordiag's CPU time: {cpu_bound:.0f}x")
            summary.append((f"sweep {name}", f"{ratio:.0f}x",
                            f">= {GOAL_SWEEP:.0f}x {goal(ratio >= GOAL_SWEEP)} "
                            f"(CPU bound {cpu_bound:.0f}x)"))
        print()

    if not args.skip_commands:
        for name in ["reference", *(s for s in sets if s != "reference")]:
            time_commands(name, args.runs, summary)

        print("== help, against a bare two-command typer app's --help (A/B alternating, "
              "ratios run by run)")
        bare = [sys.executable, str(HERE / "bare_typer_app.py"), "--help"]
        for label, argv, limit in ((["--help"], gabordiag("--help"), GOAL_HELP),
                                   (["recover", "--help"], gabordiag("recover", "--help"),
                                    GOAL_COMMAND_HELP)):
            a, b, wall, cpu = paired_ratios(argv, bare, max(args.runs, 7))
            text = " ".join(label)
            print(f"  gabordiag {text:<15} {a.wall:.3f} s wall, {a.cpu:.3f} s CPU; bare app "
                  f"{b.wall:.3f} s, {b.cpu:.3f} s; ratio {wall:.2f}x wall, {cpu:.2f}x CPU "
                  f"(goal <= {limit:g}x: {goal(wall <= limit)})")
            summary.append((f"gabordiag {text}", f"{wall:.2f}x",
                            f"<= {limit:g}x {goal(wall <= limit)}"))
        heavy = help_imports()
        print(f"  modules imported to print help: numpy, scipy, matplotlib -> "
              f"{', '.join(heavy) if heavy else 'none'} ({goal(not heavy)})")
        summary.append(("help imports numpy/scipy/mpl", ", ".join(heavy) or "none",
                        goal(not heavy)))
        print()

    print(f"at end: {load()}")
    print("\nsummary")
    width = max(len(row[0]) for row in summary) if summary else 10
    for what, value, target in summary:
        print(f"  {what:<{width}}  {value:>10}   goal {target}")


if __name__ == "__main__":
    main()
