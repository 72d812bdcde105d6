"""Regenerate the figures in docs/ (the README shows them).

    python docs/gallery.py            # all of them, about 20 s on two cores
    python docs/gallery.py reference  # one case

Each case is a config (the reference case, the stable fix, a spurious minimum, momentum,
a 2-D landscape); each figure is what the command in its entry draws, made through the
same functions (``gabordiag.viz.figures``) and written at 100 dpi.
"""

# ruff: noqa: E402 (the BLAS threads are set before numpy is imported)
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# BLAS on one thread, as the command line runs it (before numpy is imported): the
# momentum run is chaotic, and with another thread count it is another run
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = os.environ.get("GABORDIAG_BLAS_THREADS", "1")

from matplotlib.figure import Figure

from gabordiag.analysis.basins import run_basins
from gabordiag.analysis.landscape import run_landscape, theta_landscape
from gabordiag.analysis.recover import recover
from gabordiag.analysis.stability import stability
from gabordiag.analysis.study import Study
from gabordiag.config import resolve_config
from gabordiag.viz.figures import basins_figure, landscape_plot, recover_figure, save_figure

DOCS = Path(__file__).resolve().parent
CONFIGS = DOCS.parent / "configs"


def _study(config: str | None = None, **options: str) -> Study:
    path = CONFIGS / config if config else None
    return Study(resolve_config(options, path)[0])


def reference_run() -> Figure:
    """gabordiag recover --config configs/reference.toml --plot docs/reference-run.png"""
    study = _study("reference.toml")
    return recover_figure(recover(study), stability(study, "theta"))


def reference_landscape() -> Figure:
    """gabordiag landscape --config configs/reference.toml --trajectory --plot
    docs/reference-landscape.png"""
    return landscape_plot(run_landscape(_study("reference.toml"), trajectory=True))


def reference_basins() -> Figure:
    """gabordiag basins --loss rmse --loss mse --lr 3e-4 --lr 3e-3 --plot
    docs/reference-basins.png"""
    study = _study("reference.toml")
    result = run_basins(study, starts=180, lrs=[3e-4, 3e-3], losses=["rmse", "mse"])
    landscapes = {loss: theta_landscape(study.variant(loss=loss)) for loss in ("rmse", "mse")}
    return basins_figure(result, landscapes)


def stable_run() -> Figure:
    """gabordiag recover --config configs/stable.toml --plot docs/stable-run.png"""
    study = _study("stable.toml")
    return recover_figure(recover(study), stability(study, "theta"))


def spurious_landscape() -> Figure:
    """gabordiag landscape --seed 0 --loss mse --lr 3e-4 --trajectory --plot
    docs/spurious-landscape.png (this image has a spurious minimum next to the start)"""
    return landscape_plot(run_landscape(_study(seed="0", loss="mse", lr="3e-4"),
                                        trajectory=True))


def momentum_run() -> Figure:
    """gabordiag recover --momentum 0.9 --plot docs/momentum-run.png"""
    study = _study("reference.toml", momentum="0.9")
    return recover_figure(recover(study), stability(study, "theta"))


def heatmap() -> Figure:
    """gabordiag landscape --param theta --param2 lambda --learn theta,lambda
    --trajectory --plot docs/heatmap.png"""
    study = _study("reference.toml", learn="theta,lambda")
    return landscape_plot(run_landscape(study, "theta", "lambda", trajectory=True))


GALLERY: dict[str, dict[str, Callable[[], Figure]]] = {
    "reference": {"reference-run": reference_run, "reference-landscape": reference_landscape,
                  "reference-basins": reference_basins},
    "stable": {"stable-run": stable_run},
    "spurious": {"spurious-landscape": spurious_landscape},
    "momentum": {"momentum-run": momentum_run},
    "2d": {"heatmap": heatmap},
}


def main(cases: list[str]) -> int:
    unknown = [c for c in cases if c not in GALLERY]
    if unknown:
        print(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(GALLERY)}",
              file=sys.stderr)
        return 2
    for case in cases or list(GALLERY):
        for name, make in GALLERY[case].items():
            start = time.perf_counter()
            path = save_figure(make(), DOCS / f"{name}.png", dpi=100)
            print(f"wrote {path.relative_to(DOCS.parent)} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
