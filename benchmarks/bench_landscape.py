"""Landscape benchmark: loss, gradient and curvature at 3600 angles.

Reference setup: 256x256 pink image (seed 0), ksize 31, sigma 4, lambda 10, gamma 0.5,
psi 0, target theta pi/4, loss mse, valid correlation, theta learned. The same 3600
angles (0.1 degree apart over a full turn) are evaluated by

* gabordiag's spectral engine, timed from scratch: Gram build, series fit, evaluation;
* gabordiag's direct engine (FFT correlation per angle);
* PyTorch float64: batched conv2d, gradient by autograd, curvature by double backward.

Then the Gram build at 1024x1024, ksize 31: the fast build against chunked
patches^T patches. Run: ``/work/venv/bin/python benchmarks/bench_landscape.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gabordiag.config.params import GaborParams
from gabordiag.core.images import make_image
from gabordiag.core.losses import Loss
from gabordiag.core.problem import Problem
from gabordiag.engines.direct import DirectEngine
from gabordiag.engines.gram import gram_matrix, gram_matrix_patches
from gabordiag.engines.spectral import SpectralEngine

TARGET = GaborParams(theta=math.pi / 4, lambd=10.0, sigma=4.0, gamma=0.5, psi=0.0)
KSIZE = 31


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, float, Any]:
    """The run with the smallest wall time over ``repeat`` (the machine may be shared):
    its wall time, its CPU time (all the process's threads) and its result."""
    best, best_cpu, result = math.inf, math.inf, None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        outcome = run()
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, best_cpu, result = elapsed, time.process_time() - start_cpu, outcome
    return best, best_cpu, result


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def spectral_path(problem: Problem, values: np.ndarray) -> dict[str, Any]:
    """Everything from scratch: Gram matrix, series fit, then the evaluation."""
    start = time.perf_counter()
    gram = gram_matrix(problem.padded, problem.ksize)
    built = time.perf_counter()
    engine = SpectralEngine(problem, gram)
    fitted = time.perf_counter()
    result = engine.loss_grad_curv(values)
    done = time.perf_counter()
    return {"result": result, "engine": engine, "gram": built - start,
            "fit": fitted - built, "evaluate": done - fitted, "total": done - start}


def cli_path(angles: int, repeat: int) -> tuple[float, dict[str, Any]]:
    """``gabordiag landscape ... --json`` as a user runs it: best wall time of ``repeat``
    runs, and its JSON."""
    command = [sys.executable, "-m", "gabordiag", "landscape", "--size", "256", "--ksize",
               str(KSIZE), "--seed", "0", "--loss", "mse", "--range", "0,2pi", "--points",
               str(angles), "--json"]
    best, output = math.inf, ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        best = min(best, time.perf_counter() - start)
        output = done.stdout
    return best, json.loads(output)


def torch_path(torch: Any, image: np.ndarray, values: np.ndarray,
               chunk: int) -> tuple[tuple[np.ndarray, ...], list[float]]:
    """Loss, autograd gradient and double-backward curvature in float64, by chunks.

    Returns the three arrays and the seconds each chunk took.
    """
    from _torch_gabor import TorchGabor

    layer = TorchGabor(torch, image, KSIZE, lambd=TARGET.lambd, sigma=TARGET.sigma,
                       gamma=TARGET.gamma, psi=TARGET.psi, dtype=torch.float64)
    target = layer.outputs(torch.tensor([TARGET.theta], dtype=torch.float64))[0].detach()
    parts, times = [], []
    for start in range(0, len(values), chunk):
        begin = time.perf_counter()
        theta = torch.tensor(values[start:start + chunk, 0], dtype=torch.float64,
                             requires_grad=True)
        mse = layer.mse(theta, target)
        # Each angle only affects its own loss: the gradient of the sum is the
        # per-angle gradient, and its gradient the Hessian's diagonal.
        (grad,) = torch.autograd.grad(mse.sum(), theta, create_graph=True)
        (curv,) = torch.autograd.grad(grad.sum(), theta)
        parts.append((mse.detach().numpy(), grad.detach().numpy(), curv.numpy()))
        times.append(time.perf_counter() - begin)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3)), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--angles", type=int, default=3600)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for our engines")
    parser.add_argument("--torch-chunk", type=int, default=200)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-patches", action="store_true",
                        help="skip the slow patches^T patches reference at 1024x1024")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, no GPU; "
          f"python {platform.python_version()}, numpy {np.__version__}")
    image = make_image("pink", size=256, seed=0)
    problem = Problem(image, KSIZE, TARGET, ("theta",), Loss("mse"))
    values = np.linspace(0, 2 * np.pi, args.angles, endpoint=False)[:, None]
    print(f"setup: 256x256 pink, ksize {KSIZE}, sigma 4, lambda 10, gamma 0.5, psi 0, "
          f"target pi/4, mse; {args.angles} angles, loss + gradient + curvature\n")

    t_spectral, c_spectral, spectral = best_of(args.repeat,
                                               lambda: spectral_path(problem, values))
    engine = spectral["engine"]
    print(f"spectral (from scratch)  {t_spectral:9.3f} s wall, {c_spectral:.3f} s CPU   "
          f"[Gram {spectral['gram']:.3f} s, "
          f"fit {spectral['fit']:.3f} s ({engine.n_samples} samples, {engine.n_modes} "
          f"modes, tail {engine.tail_ratio:.1e}), evaluate {1e3 * spectral['evaluate']:.2f} ms]")

    t_cli, landscape_json = cli_path(args.angles, args.repeat)
    print(f"gabordiag landscape CLI  {t_cli:9.3f} s wall (process start to finished JSON, "
          f"{len(landscape_json['grid'])} angles, engine {landscape_json['engine']}, "
          f"{len(landscape_json['stationary_points'])} stationary points)")

    direct = DirectEngine(problem)
    t_direct, c_direct, reference = best_of(1, lambda: direct.loss_grad_curv(values))
    print(f"direct engine            {t_direct:9.3f} s wall, {c_direct:.3f} s CPU")
    errors = [relative_error(got, want) for got, want in zip(spectral["result"], reference,
                                                             strict=True)]
    print("  spectral vs direct, max error / max |value|: loss {:.1e}, gradient {:.1e}, "
          "curvature {:.1e}".format(*errors))

    torch = None
    if not args.no_torch:
        from _torch_gabor import load_torch

        torch = load_torch()
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
        torch_path(torch, image, values[:8], 8)  # warm-up: allocator, kernels
        t_torch, c_torch, (torch_result, chunk_times) = best_of(
            1, lambda: torch_path(torch, image, values, args.torch_chunk))
        threads = torch.get_num_threads()
        sizes = [min(args.torch_chunk, len(values) - i)
                 for i in range(0, len(values), args.torch_chunk)]
        t_torch_best = min(t / n for t, n in zip(chunk_times, sizes, strict=True)) * len(values)
        print(f"torch float64 autograd   {t_torch:9.3f} s wall, {c_torch:.3f} s CPU   "
              f"(torch {torch.__version__}, {threads} threads, chunks of "
              f"{args.torch_chunk} angles; at its fastest chunk's rate {t_torch_best:.3f} s)")
        errors = [relative_error(got, want[:, 0] if want.ndim == 2 else want)
                  for got, want in zip(torch_result, reference, strict=True)]
        print("  torch vs direct, max error / max |value|: loss {:.1e}, gradient {:.1e}, "
              "curvature {:.1e}".format(*errors))

    print("\nratios (higher is faster for the spectral path):")
    print(f"  direct / spectral  {t_direct / t_spectral:8.1f}x")
    if torch is not None:
        print(f"  torch / CLI        {t_torch / t_cli:8.1f}x   (target >= 25x: the whole "
              "command, process start to JSON)")
    if torch is not None:
        print(f"  torch / spectral   {t_torch / t_spectral:8.1f}x   (target >= 25x); at torch's "
              f"fastest chunk rate: {t_torch_best / t_spectral:.1f}x")
        print(f"  torch / direct     {t_torch / t_direct:8.1f}x")
        # On a shared machine wall times suffer, torch's threads most. CPU time over
        # the thread count is the least torch could take with its threads all running.
        print(f"  torch CPU / {threads} threads vs spectral CPU  "
              f"{c_torch / threads / c_spectral:8.1f}x")

    print("\nGram build at 1024x1024, ksize 31:")
    big = make_image("pink", size=1024, seed=0)
    t_fast, c_fast, fast = best_of(args.repeat, lambda: gram_matrix(big, KSIZE))
    print(f"  fast (autocorrelation - strips + corners)  {t_fast:8.3f} s wall, "
          f"{c_fast:.3f} s CPU")
    if not args.no_patches:
        t_patches, c_patches, patches = best_of(1, lambda: gram_matrix_patches(big, KSIZE))
        print(f"  chunked patches^T patches                  {t_patches:8.3f} s wall, "
              f"{c_patches:.3f} s CPU ({t_patches / t_fast:.1f}x slower; max difference "
              f"{relative_error(fast, patches):.1e} of max |G|)")


if __name__ == "__main__":
    main()
