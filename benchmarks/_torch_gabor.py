"""The PyTorch baseline shared by the benchmarks: a Gabor conv layer with autograd.

Imported only by the benchmark scripts (torch is not a dependency of gabordiag).
The kernel follows gabordiag's convention: ``K[row, col] = g(x=col - c, y=row - c)``,
``x' = x cos(theta) + y sin(theta)``, ``y' = -x sin(theta) + y cos(theta)``, and
``conv2d`` is a valid cross-correlation, as gabordiag's ``correlate``/``valid``.
"""

from __future__ import annotations

import math
from typing import Any

TORCH_HINT = ("PyTorch is not installed; the torch comparison is skipped. For it, install "
              "the CPU build into the venv: /work/venv/bin/pip install torch==2.13.0 "
              "--index-url https://download.pytorch.org/whl/cpu")


def load_torch() -> Any | None:
    """The torch module, or None (with a message) when it is not installed."""
    try:
        import torch
    except ImportError:
        print(TORCH_HINT)
        return None
    return torch


class TorchGabor:
    """Batched Gabor kernels of ``theta`` (other parameters fixed) and their layer."""

    def __init__(self, torch: Any, image: Any, ksize: int, *, lambd: float, sigma: float,
                 gamma: float, psi: float, dtype: Any) -> None:
        self.torch = torch
        self.dtype = dtype
        c = ksize // 2
        coords = torch.arange(ksize, dtype=dtype) - c
        self.y, self.x = torch.meshgrid(coords, coords, indexing="ij")
        self.lambd, self.sigma, self.gamma, self.psi = lambd, sigma, gamma, psi
        self.image = torch.as_tensor(image, dtype=dtype)[None, None]

    def kernels(self, theta: Any) -> Any:
        """``(B, 1, k, k)`` kernels for angles ``(B,)``."""
        torch = self.torch
        cos_t, sin_t = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
        xr = self.x * cos_t + self.y * sin_t
        yr = -self.x * sin_t + self.y * cos_t
        envelope = torch.exp(-(xr**2 + self.gamma**2 * yr**2) / (2 * self.sigma**2))
        return (envelope * torch.cos(2 * math.pi * xr / self.lambd + self.psi))[:, None]

    def outputs(self, theta: Any) -> Any:
        """Layer outputs ``(B, h, w)``: one output channel per angle."""
        return self.torch.nn.functional.conv2d(self.image, self.kernels(theta))[0]

    def mse(self, theta: Any, target: Any) -> Any:
        """Per-angle MSE ``(B,)`` against the target output ``(h, w)``."""
        residual = self.outputs(theta) - target
        return (residual * residual).mean(dim=(1, 2))
