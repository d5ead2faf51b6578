"""The invertible 1x1 convolution (Glow), LU-parameterised.

A learned ``C x C`` matrix mixes the channels at every position (for vectors: an
invertible linear map of the features). It replaces a fixed permutation between
couplings with a learned one. Writing ``W = P L (U + diag(sign * exp(log_s)))``
keeps it invertible and makes ``log|det W| = sum(log_s)`` exact and cheap.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genloom_flow.bijection import Bijection, spatial_size


def _mix(w: Tensor, x: Tensor) -> Tensor:
    """``w`` applied to the channel axis of ``x`` (``(n, C)`` or ``(n, C, H, W)``)."""
    return torch.einsum("ij,nj...->ni...", w, x)


class InvertibleConv1x1(Bijection):
    """Normalizing direction ``z = W x`` per position, ``W`` initialised to a random rotation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight(self) -> Tensor:
        """The current ``C x C`` mixing matrix ``W``."""
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.perm @ lower @ upper

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        logdet = self.log_s.sum() * spatial_size(x)
        return _mix(self.weight(), x), logdet.expand(len(x))

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return _mix(torch.linalg.inv(self.weight()), z)
