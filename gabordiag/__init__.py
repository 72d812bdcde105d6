"""gabordiag: diagnose gradient descent on the parameters of a Gabor kernel.

The public Python API, for notebooks and scripts::

    import gabordiag
    k = gabordiag.gabor_kernel(21, sigma=4, theta=0.785, lambd=10, gamma=0.5, psi=0)
    config, _ = gabordiag.resolve_config({"theta0": "-pi/4"})
    study = gabordiag.Study(config)      # image, problem and engines, built once
    result = gabordiag.recover(study)
    result.verdict.kind     # 'cycling'

The results are the same objects the command line renders. Names are imported on
first use, so that ``import gabordiag`` (and ``gabordiag --help``) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_API = {
    "Config": "gabordiag.config.model",
    "ConfigError": "gabordiag.errors",
    "GaborParams": "gabordiag.config.params",
    "GabordiagError": "gabordiag.errors",
    "ImageError": "gabordiag.errors",
    "LimitError": "gabordiag.errors",
    "RecoverResult": "gabordiag.analysis.recover",
    "Study": "gabordiag.analysis.study",
    "Trajectory": "gabordiag.descent.runner",
    "Verdict": "gabordiag.descent.verdicts",
    "config_to_toml": "gabordiag.config.files",
    "diagnose": "gabordiag.analysis.diagnose",
    "diagnose_layer": "gabordiag.analysis.layer",
    "gabor_kernel": "gabordiag.core.kernel",
    "gabor_kernels": "gabordiag.core.kernel",
    "kernel_derivatives": "gabordiag.core.kernel",
    "load_config": "gabordiag.config.files",
    "parse_angle": "gabordiag.config.values",
    "recover": "gabordiag.analysis.recover",
    "resolve_config": "gabordiag.config.resolve",
    "run_basins": "gabordiag.analysis.basins",
    "run_gradcheck": "gabordiag.analysis.gradcheck",
    "run_landscape": "gabordiag.analysis.landscape",
    "run_remedies": "gabordiag.analysis.remedies",
    "theta_period": "gabordiag.core.kernel",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'gabordiag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
