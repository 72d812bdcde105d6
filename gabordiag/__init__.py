"""gabordiag: diagnose gradient descent on the parameters of a Gabor kernel.

The public Python API, for notebooks and scripts::

    import gabordiag
    k = gabordiag.gabor_kernel(21, sigma=4, theta=0.785, lambd=10, gamma=0.5, psi=0)
    config, _ = gabordiag.resolve_config({"theta0": "-pi/4"})
    result = gabordiag.recover(config)
    result.verdict.kind     # 'cycling'

The results are the same objects the command line renders.
"""

__version__ = "0.1.0"

from .errors import ConfigError, GabordiagError, ImageError, LimitError
from .experiment import Config, config_to_toml, load_config, parse_angle, resolve_config
from .kernel import GaborParams, gabor_kernel, gabor_kernels, kernel_derivatives, theta_period
from .recover import RecoverResult, build_problem, recover
from .trajectory import Trajectory, Verdict

__all__ = [
    "Config", "ConfigError", "GaborParams", "GabordiagError", "ImageError", "LimitError",
    "RecoverResult", "Trajectory", "Verdict", "__version__", "build_problem",
    "config_to_toml", "gabor_kernel", "gabor_kernels", "kernel_derivatives",
    "load_config", "parse_angle", "recover", "resolve_config", "theta_period",
]
