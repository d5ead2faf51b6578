"""ActNorm (Glow): a per-channel affine layer initialised from the data.

On the first batch it sees in training mode it sets its offset and scale so that its
output has zero mean and unit variance per channel. That makes a deep stack start
well-conditioned whatever the data's range, without batch statistics at test time.
The initialisation happens inside the module (no training hook), and a buffer
records it so a reloaded model never re-initialises.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genloom_flow.bijection import Bijection, per_channel, spatial_size


class ActNorm(Bijection):
    """Normalizing direction ``z = (x + bias) * exp(log_scale)``, per channel.

    Under DDP each process initialises from its own first batch; the values then
    differ slightly between processes (as in Glow's reference code).
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self.eps = eps

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set bias and scale so that ``x`` maps to zero mean, unit variance per channel."""
        flat = x.transpose(0, 1).reshape(x.shape[1], -1)
        mean = flat.mean(dim=1)
        std = flat.std(dim=1, unbiased=False) if flat.shape[1] > 1 else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std.clamp_min(1e-3) + self.eps))
        self.initialized.fill_(True)

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        z = (x + per_channel(self.bias, x)) * per_channel(self.log_scale, x).exp()
        logdet = self.log_scale.sum() * spatial_size(x)
        return z, logdet.expand(len(x))

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return z * per_channel(-self.log_scale, z).exp() - per_channel(self.bias, z)
