"""A Gabor layer with another convention (all found in public code): an angular
frequency instead of a wavelength, a 1 / (2 pi sigma^2) normalisation, and the grid
built with x and y exchanged (x varies along the rows). Not wrong as code, but its
parameters mean something else than OpenCV's."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class FreqGabor(nn.Module):
    def __init__(self, ksize: int = 21, theta: float = 0.0, sigma: float = 4.0,
                 freq: float = 2 * math.pi / 10, gamma: float = 0.5, psi: float = 0.0,
                 padding: int = 0) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))
        self.sigma = nn.Parameter(torch.tensor(sigma))
        self.freq = nn.Parameter(torch.tensor(freq))
        self.gamma = nn.Parameter(torch.tensor(gamma))
        self.psi = nn.Parameter(torch.tensor(psi))
        self.padding = padding
        coords = torch.arange(ksize) - ksize // 2
        x, y = torch.meshgrid(coords, coords, indexing="ij")  # x along the rows
        self.register_buffer("x", x.to(torch.get_default_dtype()))
        self.register_buffer("y", y.to(torch.get_default_dtype()))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        xr = self.x * torch.cos(self.theta) + self.y * torch.sin(self.theta)
        yr = -self.x * torch.sin(self.theta) + self.y * torch.cos(self.theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        norm = 1 / (2 * math.pi * self.sigma**2)
        kernel = norm * envelope * torch.cos(self.freq * xr + self.psi)
        return F.conv2d(image, kernel[None, None], padding=self.padding)


def make() -> nn.Module:
    return FreqGabor()


def make_small() -> nn.Module:
    return FreqGabor(ksize=9, theta=0.3, sigma=2.0, freq=2 * math.pi / 5, padding=4)
