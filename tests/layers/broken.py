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


def exits() -> nn.Module:
    raise SystemExit(3)


class _Chatty(nn.Module):
    """A correct 3x3 Gabor-ish layer that prints on every forward (a debugging leftover)."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(0.3))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        print("forward", tuple(image.shape))
        c = torch.arange(-2, 3, dtype=image.dtype)
        y, x = torch.meshgrid(c, c, indexing="ij")
        xr = x * torch.cos(self.theta) + y * torch.sin(self.theta)
        kernel = torch.exp(-(x**2 + y**2) / 4) * torch.cos(2 * torch.pi * xr / 3)
        return torch.nn.functional.conv2d(image, kernel[None, None])


def chatty() -> nn.Module:
    print("building the layer")
    return _Chatty()


class _NotFinite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(0.3))
        self.sigma = nn.Parameter(torch.tensor(0.0))  # divided by: an infinite kernel

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image * torch.cos(self.theta) / self.sigma


def not_finite() -> nn.Module:
    return _NotFinite()
