"""The kernels a run uses (``gabordiag kernel``): target, start and the derivative of
the start kernel with respect to each learned parameter, from the study's kernel model
(the built-in Gabor kernel or the user's ``--kernel``/``--derivative``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config.model import Config
from .study import Study

__all__ = ["SCHEMA", "DerivativeMap", "KernelsResult", "derivative_maps", "run_kernels"]

SCHEMA = "gabordiag.kernel/1"
Array = NDArray[np.float64]


@dataclass
class KernelsResult:
    """Kernels by name: ``target``, ``start``, ``d/dtheta`` ... and whose they are."""

    config: Config
    kernels: dict[str, Array]
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.kernel/1)."""
        return {"schema": SCHEMA, "config": self.config.to_dict(), "source": self.source,
                "kernels": {name: k.tolist() for name, k in self.kernels.items()}}


def run_kernels(study: Study) -> KernelsResult:
    """Target, start and d start / d p for each learned p (name -> kernel).

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> result = run_kernels(Study(resolve_config({"ksize": "9"})[0]))
    >>> list(result.kernels), result.kernels["target"].shape
    (['target', 'start', 'd/dtheta'], (9, 9))
    """
    config = study.config
    problem = study.problem()
    target, _ = problem.kernels(config.target.as_dict(), ())
    start, derivatives = problem.kernels(config.start.as_dict(), config.learn)
    kernels = {"target": np.asarray(target), "start": np.asarray(start)}
    kernels.update({f"d/d{name}": np.asarray(derivatives[name]) for name in config.learn})
    source = ("the built-in Gabor kernel" if config.kernel is None
              else f"your kernel {config.kernel}")
    if config.derivative is not None:
        source += f", your derivative {config.derivative}"
    elif config.kernel is not None:
        source += ", derivatives by central finite differences"
    else:
        source += ", analytic derivatives"
    return KernelsResult(config, kernels, source)


@dataclass
class DerivativeMap:
    """One kernel derivative at one point: analytic (or the user's) and central
    differences, for a mismatch map."""

    param: str
    point: dict[str, float]
    analytic: Array
    numeric: Array
    passed: bool
    result: str = "pass"  # "pass", "fail" or "unresolved" at this point
    step: float = 1e-6    # the central difference's

    @property
    def difference(self) -> Array:
        """``analytic - numeric``, pixel by pixel."""
        return self.analytic - self.numeric


def derivative_maps(study: Study, result: Any) -> list[DerivativeMap]:
    """For each kernel derivative a gradcheck compared (``result``: a
    :class:`~gabordiag.analysis.gradcheck.GradcheckResult`): the derivative and its
    central difference at the first point where it failed (else where it could not be
    checked, else at the start), at the step the gradcheck compared there.
    """
    problem = study.problem()
    maps = []
    for check in result.checks:
        if check.what != "kernel":
            continue
        index = next((i for kind in ("fail", "unresolved")
                      for i, r in enumerate(check.point_results) if r == kind), 0)
        point = result.points[index]
        step = check.steps[index] if check.steps else result.eps
        name = check.param
        _, derivatives = problem.kernels(point, (name,))
        plus, _ = problem.kernels({**point, name: point[name] + step})
        minus, _ = problem.kernels({**point, name: point[name] - step})
        outcome = check.point_results[index] if check.point_results else (
            "pass" if check.passed else "fail")
        maps.append(DerivativeMap(name, dict(point), np.asarray(derivatives[name]),
                                  np.asarray((plus - minus) / (2 * step)),
                                  outcome == "pass", outcome, step))
    return maps
