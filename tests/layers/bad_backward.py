"""A Gabor layer whose theta enters only through a custom ``torch.autograd.Function``
(the rotation of the grid) with a sign error in its hand-written backward: the forward
is right, the gradient with respect to theta has the wrong sign."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class Rotate(torch.autograd.Function):
    """``(x', y')`` from the grid and theta; the backward flips theta's gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> Any:
        ctx.save_for_backward(x, y, theta)
        c, s = torch.cos(theta), torch.sin(theta)
        return x * c + y * s, -x * s + y * c

    @staticmethod
    def backward(ctx: Any, grad_xr: torch.Tensor, grad_yr: torch.Tensor) -> Any:
        x, y, theta = ctx.saved_tensors
        c, s = torch.cos(theta), torch.sin(theta)
        dxr = -x * s + y * c   # d x' / d theta = y'
        dyr = -x * c - y * s   # d y' / d theta = -x'
        grad_theta = (grad_xr * dxr + grad_yr * dyr).sum()
        return None, None, -grad_theta  # the bug: the sign


class CustomRotationGabor(nn.Module):
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
        self.register_buffer("x", x.to(torch.get_default_dtype()))
        self.register_buffer("y", y.to(torch.get_default_dtype()))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        xr, yr = Rotate.apply(self.x, self.y, self.theta)
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        kernel = envelope * torch.cos(2 * math.pi * xr / self.lambd + self.psi)
        return F.conv2d(image, kernel[None, None])


def make() -> nn.Module:
    return CustomRotationGabor()


def make_small() -> nn.Module:
    return CustomRotationGabor(ksize=9, theta=0.3, sigma=2.0, lambd=5.0)
