"""``gabordiag layer``: diagnose a user's PyTorch Gabor layer (gradient flow, the kernel
it really applies and its convention, its derivatives, the recovery experiment through
its own forward beside gabordiag's reference kernel).

The only place gabordiag imports torch, and only when :func:`diagnose_layer` runs:
importing this package does not import torch; without it the call raises a one-line
:class:`~gabordiag.errors.DependencyError` that says how to install it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .session import INSTALL_HINT, require_torch

if TYPE_CHECKING:
    from ...config.model import Config
    from .result import LayerDiagnosis

__all__ = ["INSTALL_HINT", "diagnose_layer", "require_torch"]


def diagnose_layer(spec: str, config: Config, param: str | None = None,
                   channel: tuple[int, int] | None = None,
                   progress: Callable[[str], None] | None = None) -> LayerDiagnosis:
    """See :func:`gabordiag.analysis.layer.run.diagnose_layer` (torch is checked for,
    then imported, here)."""
    require_torch()
    from .run import diagnose_layer as run

    return run(spec, config, param, channel, progress)
