"""The study: one experiment, built once, shared by every analysis that reads it.

A :class:`Study` turns a resolved :class:`~gabordiag.config.model.Config` into the
image, the problems (one per loss, learned subset and image variant) and their engines,
each built on first use and kept. The Gram matrix of an image is built once and shared
by every problem on that image (it does not depend on the loss), and the Fourier series
of the spectral engine is fitted once and shared by the losses of the MSE family.
Analyses memoise their own results on the study (:meth:`Study.memo`), so that
``diagnose`` and ``check`` compute each fact once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..config.model import Config
from ..core import images
from ..core.kernel import gabor_kernel
from ..core.losses import Loss
from ..core.problem import Problem
from ..core.user import KernelModel, UserKernel, load_callable
from ..engines import gram as gram_module
from ..engines.base import Engine
from ..engines.choice import build_engine, choose_engine
from ..engines.spectral import SpectralEngine
from ..errors import ConfigError, GabordiagError, ImageError

__all__ = ["Study"]

Array = NDArray[np.float64]
T = TypeVar("T")


class Study:
    """One experiment's image, problems and engines, built lazily and cached.

    Parameters
    ----------
    config : Config
        The resolved experiment.
    warnings : tuple of str
        What resolving it found worth saying (``--theta0 45`` is 45 rad).

    Examples
    --------
    >>> from gabordiag.config import resolve_config
    >>> study = Study(resolve_config({"size": "48", "ksize": "9"})[0])
    >>> study.engine().name, study.engine(loss="mse").name
    ('spectral', 'spectral')
    >>> study.problem().image is study.problem(loss="mse").image
    True
    """

    def __init__(self, config: Config, _shared: _Shared | None = None,
                 warnings: tuple[str, ...] = ()) -> None:
        self.config = config
        self.warnings = warnings  # about the config's values, for the reader
        self._shared = _shared or _Shared(config)
        self._problems: dict[tuple[Any, ...], Problem] = {}
        self._engines: dict[tuple[Any, ...], Engine] = {}
        self._memo: dict[Any, Any] = {}

    def variant(self, **changes: Any) -> Study:
        """A study of the same image and kernel with other descent settings (loss,
        optimizer, learning rate, steps, start ...): it shares the image, the Gram
        matrices and the spectral series, and builds its own problems and engines.
        Changes to the image or the kernel make a study of their own."""
        config = replace(self.config, **changes)
        shared = self._shared if set(changes) <= DESCENT_FIELDS else None
        return Study(config, shared)

    # -- the pieces ----------------------------------------------------------------------
    @property
    def image(self) -> Array:
        """The experiment's image (standardised unless the config says not to)."""
        return self._shared.image

    @property
    def model(self) -> KernelModel:
        """The built-in kernel, or the user's (``--kernel``, ``--derivative``)."""
        return self._shared.model

    def problem(self, *, loss: str | None = None, learn: tuple[str, ...] | None = None,
                blur: float = 0.0) -> Problem:
        """The problem for a loss and learned subset (default: the config's), on the
        image or a copy blurred by a Gaussian of width ``blur`` pixels."""
        c = self.config
        key = (loss or c.loss, learn or c.learn, blur)
        if key not in self._problems:
            image = self.image if not blur else images.gaussian_blur(self.image, blur)
            self._problems[key] = Problem(
                image=image, ksize=c.ksize, target=c.target, learn=key[1],
                loss=Loss(key[0], eps=c.loss_eps), op=c.op, boundary=c.boundary,
                model=self.model)
        return self._problems[key]

    def gram(self, blur: float = 0.0) -> Array:
        """The Gram matrix of the (padded) image's patches, built once per image."""
        grams = self._shared.grams
        if blur not in grams:
            grams[blur] = gram_module.gram_matrix(self.problem(blur=blur).padded,
                                                  self.config.ksize)
        return grams[blur]

    def engine(self, *, loss: str | None = None, learn: tuple[str, ...] | None = None,
               blur: float = 0.0, evaluations: int = 1) -> Engine:
        """The engine the config asks for (``auto``: the fastest exact one) for the
        problem :meth:`problem` names, for about ``evaluations`` evaluations.

        (Each analysis refuses, before any work, what it estimates to take longer than
        the limits: :mod:`gabordiag.analysis.cost`.)
        """
        problem = self.problem(loss=loss, learn=learn, blur=blur)
        requested = self.config.engine
        name = choose_engine(problem, requested, evaluations=evaluations,
                             gram_ready=blur in self._shared.grams)
        key = (problem.loss.name, problem.learn, blur, name)
        if key not in self._engines:
            self._engines[key] = self._build(problem, requested, name, blur)
        return self._engines[key]

    def _build(self, problem: Problem, requested: str, name: str, blur: float) -> Engine:
        series = self._shared.series
        if name == "spectral" and (problem.learn, blur) in series:
            # one series fit serves every loss of the MSE family
            return series[problem.learn, blur].for_loss(problem.loss)
        # an image so large that its products overflow gives a non-finite loss, which
        # the run reports as diverged: no warnings from building the engine's tables
        with np.errstate(over="ignore", invalid="ignore"):
            engine = build_engine(problem, name, gram=lambda: self.gram(blur),
                                  strict=requested == "spectral")
        if isinstance(engine, SpectralEngine):
            series[problem.learn, blur] = engine
        return engine

    # -- facts of the setup ------------------------------------------------------------
    @property
    def period(self) -> float | None:
        """The loss period in theta (pi or 2 pi), or ``None`` when psi is learned too."""
        if "psi" in self.config.learn:
            return None
        return self.problem().theta_period

    def require_effect(self, learn: tuple[str, ...] | None = None) -> None:
        """Refuse to learn a parameter that does not change the kernel (its verdict would
        be meaningless)."""
        problem = self.problem(learn=learn)
        target = problem.target
        for name in problem.learn:
            if not self.has_effect(name):
                isotropic = target.gamma == 1 and math.isinf(target.lambd)
                why = (": the envelope is isotropic (gamma = 1) and there is no carrier "
                       "(lambda = inf)" if name == "theta" and isotropic else "")
                raise GabordiagError(f"--learn: {name} does not change the kernel{why}; "
                                     "there is nothing to learn")

    def has_effect(self, name: str) -> bool:
        """Whether changing parameter ``name`` changes the kernel (measured once)."""
        effects = self._shared.effects
        if name not in effects:
            effects[name] = self.problem(learn=(name,)).has_effect(name)
        return effects[name]

    def kernel_description(self, engine_name: str) -> str:
        """Whose kernel a run uses and where its derivatives come from, in a few words."""
        c = self.config
        if not c.uses_code:
            return "the built-in Gabor kernel, analytic derivatives"
        kernel = f"your kernel {c.kernel}" if c.kernel else "the built-in Gabor kernel"
        if c.derivative is not None:
            return f"{kernel}, your derivative {c.derivative}"
        if engine_name == "spectral":
            return (f"{kernel}; no --derivative: the spectral engine differentiates the "
                    "loss's exact Fourier series instead (no finite differences needed)")
        return f"{kernel}; no --derivative: derivatives by central finite differences"

    def start_vector(self, learn: tuple[str, ...] | None = None) -> Array:
        """The start's values of the learned parameters."""
        return np.array(self.config.start.values(learn or self.config.learn))

    # -- results of analyses -----------------------------------------------------------
    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` once per ``key``: analyses keep their results on the study."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[no-any-return]

    @property
    def grams_built(self) -> int:
        """How many Gram matrices were built (one per image variant used)."""
        return len(self._shared.grams)


# Config fields that change only the descent, not the image, the kernel or the target:
# studies that differ in these share their image, Gram matrices and spectral series.
DESCENT_FIELDS = frozenset({
    "theta0", "lambda0", "sigma0", "gamma0", "psi0", "learn", "loss", "loss_eps",
    "optimizer", "lr", "momentum", "dampening", "nesterov", "betas", "alpha", "eps",
    "steps", "engine"})


class _Shared:
    """What studies of one image and kernel share: the image, the kernel model, the
    Gram matrices (per blur), the fitted spectral series, and which parameters have an
    effect on the kernel."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.grams: dict[float, Array] = {}
        self.series: dict[tuple[tuple[str, ...], float], SpectralEngine] = {}
        self.effects: dict[str, bool] = {}

    @cached_property
    def image(self) -> Array:
        """The experiment's image (standardised unless the config says not to)."""
        c = self.config
        image = images.make_image(c.image, size=c.size, seed=c.seed, theta=c.target_theta,
                                  wavelength=c.lambd, standardized=c.standardize)
        if c.boundary == "valid" and min(image.shape) < c.ksize:
            raise ConfigError(f"--ksize: {c.ksize} is larger than the image "
                              f"({image.shape[0]}x{image.shape[1]}); use a smaller ksize, a "
                              "larger image or --boundary same")
        if float(np.ptp(image)) == 0.0:
            raise ImageError("--image: the image is constant: it carries no orientation "
                             "information, so no parameter can be recovered from it")
        return image

    @cached_property
    def model(self) -> KernelModel:
        """The built-in kernel, or the user's (``--kernel``) and/or the user's derivative
        (``--derivative``, used with the built-in kernel when no ``--kernel`` is given)."""
        c = self.config
        if not c.uses_code:
            return KernelModel()
        kernel_fn = (load_callable(c.kernel, "--kernel") if c.kernel is not None
                     else gabor_kernel)
        derivative_fn = (load_callable(c.derivative, "--derivative")
                         if c.derivative is not None else None)
        return UserKernel(kernel_fn, derivative_fn)
