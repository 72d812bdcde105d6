"""What ``gabordiag layer`` found: the measurements and the ranked findings (no torch
needed to read or render it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...config.model import Config
from ..diagnose import Finding

if TYPE_CHECKING:
    from .convention import Convention
    from .derivs import ParamDerivatives
    from .experiment import LayerRecovery
    from .flow import FlowResult
    from .probe import Geometry

__all__ = ["SCHEMA", "LayerDiagnosis"]

SCHEMA = "gabordiag.layer/1"


@dataclass
class LayerDiagnosis:
    """The layer's geometry, gradient flow, convention, derivatives and recovery, and the
    findings drawn from them (ranked: severity, then how much each explains)."""

    spec: str
    module: str                     # the module's class name
    config: Config
    param: str                      # the orientation parameter (``--param``)
    channel: tuple[int, int]        # (out, in) filter studied
    geometry: Geometry
    linearity: dict[str, Any]
    flow: FlowResult
    convention: Convention
    derivatives: list[ParamDerivatives]
    recovery: LayerRecovery | None
    recovery_note: str = ""         # why there is no recovery experiment
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No finding above ``info``."""
        return all(f.severity == "info" for f in self.findings)

    def fixes(self) -> list[tuple[str, str]]:
        """``(finding id, what to change in the code)`` in rank order."""
        return [(f.id, f.fix) for f in self.findings if f.fix]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (``schema`` gabordiag.layer/1)."""
        keys = ("image", "size", "seed", "standardize", "target-theta", "theta0", "loss",
                "loss-eps", "optimizer", "lr", "momentum", "dampening", "nesterov", "betas",
                "alpha", "eps", "steps")
        config = {k: v for k, v in self.config.to_dict().items() if k in keys}
        return {"schema": SCHEMA, "spec": self.spec, "module": self.module,
                "config": config, "param": self.param, "channel": list(self.channel),
                "geometry": self.geometry.to_dict(), "linearity": self.linearity,
                "flow": self.flow.to_dict(), "convention": self.convention.to_dict(),
                "derivatives": [d.to_dict() for d in self.derivatives],
                "recovery": None if self.recovery is None else self.recovery.to_dict(),
                "recovery_note": self.recovery_note,
                "findings": [f.to_dict() for f in self.findings],
                "fixes": [{"id": i, "fix": fix} for i, fix in self.fixes()],
                "clean": self.clean}
