"""A Gabor layer with a phase Parameter that forward never uses (it uses a constant
instead): the optimizer carries a parameter that nothing reads."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class UnusedPhaseGabor(nn.Module):
    def __init__(self, ksize: int = 21, theta: float = 0.0, sigma: float = 4.0,
                 lambd: float = 10.0, gamma: float = 0.5) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))
        self.sigma = nn.Parameter(torch.tensor(sigma))
        self.lambd = nn.Parameter(torch.tensor(lambd))
        self.gamma = nn.Parameter(torch.tensor(gamma))
        self.phase = nn.Parameter(torch.tensor(0.0))  # the bug: never used
        coords = torch.arange(ksize) - ksize // 2
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        self.register_buffer("x", x.to(torch.get_default_dtype()))
        self.register_buffer("y", y.to(torch.get_default_dtype()))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        xr = self.x * torch.cos(self.theta) + self.y * torch.sin(self.theta)
        yr = -self.x * torch.sin(self.theta) + self.y * torch.cos(self.theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        kernel = envelope * torch.cos(2 * math.pi * xr / self.lambd)
        return F.conv2d(image, kernel[None, None])


def make() -> nn.Module:
    return UnusedPhaseGabor()


def make_small() -> nn.Module:
    return UnusedPhaseGabor(ksize=9, theta=0.3, sigma=2.0, lambd=5.0)
