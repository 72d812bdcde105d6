"""Factories that cannot be diagnosed, for the error paths of ``gabordiag layer``."""

from __future__ import annotations

import torch
from torch import nn


def raises() -> nn.Module:
    raise ValueError("no weights file found")


def not_a_module() -> object:
    return 42


class _NoTheta(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.angle = nn.Parameter(torch.tensor(0.3))
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.conv(image) * torch.cos(self.angle)


def no_theta() -> nn.Module:
    return _NoTheta()


class _ThreeChannels(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(0.3))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[1] != 7:
            raise RuntimeError(f"expected 7 channels, got {image.shape[1]}")
        return image * self.theta


def bad_input() -> nn.Module:
    return _ThreeChannels()
