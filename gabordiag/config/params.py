"""The five parameters of a Gabor kernel, as one value (no numpy needed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .choices import PARAM_NAMES

__all__ = ["PARAM_NAMES", "GaborParams"]


@dataclass(frozen=True)
class GaborParams:
    """The five parameters of a Gabor kernel (``lambd`` is the wavelength)."""

    theta: float
    lambd: float
    sigma: float
    gamma: float
    psi: float

    def as_dict(self) -> dict[str, float]:
        """Parameters keyed by their public names (``lambda``, not ``lambd``)."""
        return {
            "theta": self.theta,
            "lambda": self.lambd,
            "sigma": self.sigma,
            "gamma": self.gamma,
            "psi": self.psi,
        }

    def replace(self, **values: float) -> GaborParams:
        """A copy with some parameters changed; accepts ``lambda`` or ``lambd``."""
        current = self.as_dict()
        for name, value in values.items():
            current["lambda" if name == "lambd" else name] = float(value)
        return GaborParams.from_dict(current)

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> GaborParams:
        """Build from a mapping with the public names."""
        return cls(
            theta=float(values["theta"]),
            lambd=float(values["lambda"]),
            sigma=float(values["sigma"]),
            gamma=float(values["gamma"]),
            psi=float(values["psi"]),
        )

    def values(self, names: tuple[str, ...]) -> list[float]:
        """The values of ``names``, in that order (a learned-value vector)."""
        current = self.as_dict()
        return [current[name] for name in names]
