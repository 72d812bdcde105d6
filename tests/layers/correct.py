"""A correct learnable Gabor layer: gabordiag's convention (OpenCV's), the kernel built
in forward from its five parameters and applied with ``F.conv2d``, so autograd reaches
every parameter. Two filters, one orientation each."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class GaborConv(nn.Module):
    """``n`` Gabor filters of size ``ksize``; theta per filter, the rest shared."""

    def __init__(self, ksize: int = 21, thetas: tuple[float, ...] = (0.0, math.pi / 2),
                 sigma: float = 4.0, lambd: float = 10.0, gamma: float = 0.5,
                 psi: float = 0.0) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(thetas))
        self.sigma = nn.Parameter(torch.tensor(sigma))
        self.lambd = nn.Parameter(torch.tensor(lambd))
        self.gamma = nn.Parameter(torch.tensor(gamma))
        self.psi = nn.Parameter(torch.tensor(psi))
        coords = torch.arange(ksize) - ksize // 2
        y, x = torch.meshgrid(coords, coords, indexing="ij")  # x along columns, y down
        self.register_buffer("x", x.to(torch.get_default_dtype()))
        self.register_buffer("y", y.to(torch.get_default_dtype()))

    def kernel(self) -> torch.Tensor:
        theta = self.theta[:, None, None]
        xr = self.x * torch.cos(theta) + self.y * torch.sin(theta)
        yr = -self.x * torch.sin(theta) + self.y * torch.cos(theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        return (envelope * torch.cos(2 * math.pi * xr / self.lambd + self.psi))[:, None]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(image, self.kernel())


def make() -> nn.Module:
    """The layer as the tests and the README use it."""
    return GaborConv()


def make_small() -> nn.Module:
    """A small one (9x9, one filter) for fast tests."""
    return GaborConv(ksize=9, thetas=(0.3,), sigma=2.0, lambd=5.0)


def make_small_pair() -> nn.Module:
    """Two small filters (9x9) at different orientations, for --channel."""
    return GaborConv(ksize=9, thetas=(0.3, 1.2), sigma=2.0, lambd=5.0)
