"""A Gabor layer that writes its kernel into ``conv.weight.data`` in forward (a pattern
found in public code): the graph from theta, sigma, lambda, gamma and psi to the output
is cut, so they get no gradient, while ``conv.weight`` gets one that the next forward
overwrites."""

from __future__ import annotations

import math

import torch
from torch import nn


class DataWriteGabor(nn.Module):
    def __init__(self, ksize: int = 21, theta: float = 0.0, sigma: float = 4.0,
                 lambd: float = 10.0, gamma: float = 0.5, psi: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, ksize, bias=False)
        self.theta = nn.Parameter(torch.tensor(theta))
        self.sigma = nn.Parameter(torch.tensor(sigma))
        self.lambd = nn.Parameter(torch.tensor(lambd))
        self.gamma = nn.Parameter(torch.tensor(gamma))
        self.psi = nn.Parameter(torch.tensor(psi))
        coords = torch.arange(ksize) - ksize // 2
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        self.register_buffer("x", x.to(torch.get_default_dtype()))
        self.register_buffer("y", y.to(torch.get_default_dtype()))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        xr = self.x * torch.cos(self.theta) + self.y * torch.sin(self.theta)
        yr = -self.x * torch.sin(self.theta) + self.y * torch.cos(self.theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        kernel = envelope * torch.cos(2 * math.pi * xr / self.lambd + self.psi)
        self.conv.weight.data = kernel[None, None]  # the bug: .data cuts the graph
        return self.conv(image)


def make() -> nn.Module:
    return DataWriteGabor()


def make_small() -> nn.Module:
    return DataWriteGabor(ksize=9, theta=0.3, sigma=2.0, lambd=5.0)
