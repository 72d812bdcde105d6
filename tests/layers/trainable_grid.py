"""A Gabor layer whose coordinate grids are trainable Parameters (a pattern found in
public code): the optimizer moves the pixel coordinates along with theta."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GridParamGabor(nn.Module):
    def __init__(self, ksize: int = 21, theta: float = 0.0, sigma: float = 4.0,
                 lambd: float = 10.0, gamma: float = 0.5, psi: float = 0.0) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))
        self.sigma = nn.Parameter(torch.tensor(sigma))
        self.lambd = nn.Parameter(torch.tensor(lambd))
        self.gamma = nn.Parameter(torch.tensor(gamma))
        self.psi = nn.Parameter(torch.tensor(psi))
        coords = torch.arange(ksize) - ksize // 2
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        dtype = torch.get_default_dtype()
        self.x = nn.Parameter(x.to(dtype))  # the bug: constants made trainable
        self.y = nn.Parameter(y.to(dtype))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        xr = self.x * torch.cos(self.theta) + self.y * torch.sin(self.theta)
        yr = -self.x * torch.sin(self.theta) + self.y * torch.cos(self.theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        kernel = envelope * torch.cos(2 * math.pi * xr / self.lambd + self.psi)
        return F.conv2d(image, kernel[None, None])


def make() -> nn.Module:
    return GridParamGabor()


def make_small() -> nn.Module:
    return GridParamGabor(ksize=9, theta=0.3, sigma=2.0, lambd=5.0)
