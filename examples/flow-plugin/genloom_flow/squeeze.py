"""Squeeze (RealNVP): trade space for channels, ``(C, H, W) -> (4C, H/2, W/2)``.

A fixed permutation of the pixels (log-determinant 0). After it, a channel mask splits
each 2x2 neighbourhood between the two halves of a coupling, and 1x1 convolutions
have more than one channel to mix.
"""

from __future__ import annotations

from torch import Tensor

from genloom_flow.bijection import Bijection


def squeeze(x: Tensor) -> Tensor:
    """Each 2x2 block of every channel becomes 4 channels at one position."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """The inverse of :func:`squeeze`."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


class Squeeze(Bijection):
    """Squeezes in the normalizing direction, unsqueezes in the generating one."""

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return squeeze(x), x.new_zeros(len(x))

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return unsqueeze(z)
