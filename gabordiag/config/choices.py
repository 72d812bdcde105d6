"""The vocabulary of an experiment: every name an option or config key may take.

Plain tuples and dicts, importable without numpy, so that the command line can list
the choices in its help and the numerical layers can check against the same names.
"""

from __future__ import annotations

__all__ = ["BOUNDARIES", "DEFAULT_LR", "ENGINES", "FILE_SUFFIXES", "LENGTH_PARAMS", "LOSSES",
           "MSE_FAMILY",
           "NON_SMOOTH", "OPS", "OPTIMIZERS", "PARAM_NAMES", "RECOVERED", "SYNTHETIC",
           "VERDICTS"]

PARAM_NAMES: tuple[str, ...] = ("theta", "lambda", "sigma", "gamma", "psi")
# Lengths in pixels: a finite-difference step in them is relative below one pixel.
LENGTH_PARAMS: tuple[str, ...] = ("lambda", "sigma")
SYNTHETIC: tuple[str, ...] = ("pink", "white", "grating")
FILE_SUFFIXES: tuple[str, ...] = (".npy", ".png", ".jpg", ".jpeg")
LOSSES: tuple[str, ...] = ("mse", "rmse", "rmse-eps", "l1", "huber")
MSE_FAMILY: tuple[str, ...] = ("mse", "rmse", "rmse-eps")
# Losses with a kink at the minimum: the gradient does not vanish there.
NON_SMOOTH: tuple[str, ...] = ("rmse", "l1")
OPTIMIZERS: tuple[str, ...] = ("sgd", "rmsprop", "adam")
# The learning rate when none is given: the reference case's 3e-3 for SGD, torch.optim's
# defaults for RMSprop and Adam. The only place a default lr is written.
DEFAULT_LR: dict[str, float] = {"sgd": 3e-3, "rmsprop": 1e-2, "adam": 1e-3}
OPS: tuple[str, ...] = ("correlate", "convolve")
BOUNDARIES: tuple[str, ...] = ("valid", "same", "circular")
ENGINES: tuple[str, ...] = ("auto", "direct", "quadratic", "spectral")
# What a run did (see gabordiag.descent.verdicts).
VERDICTS: tuple[str, ...] = ("converged", "converged-equivalent", "local-minimum", "cycling",
                             "stalled", "diverged", "not-converged")
RECOVERED: tuple[str, ...] = ("converged", "converged-equivalent")
