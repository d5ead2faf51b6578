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

    Under DDP the processes initialise from all their first batches together (one
    all-reduce of the per-channel counts, sums and squares), so every process starts
    from the same values (Glow's reference code let them differ).
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
        if _processes() > 1:
            mean, std = _global_moments(flat)
        else:
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


def _processes() -> int:
    """The number of DDP processes (1 without ``torch.distributed``)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _global_moments(flat: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation of ``flat`` (channels x values) over every
    process's values: one all-reduce of the counts, sums and sums of squares."""
    stats = torch.stack([
        torch.full_like(flat[:, 0], float(flat.shape[1])), flat.sum(dim=1), (flat * flat).sum(dim=1),
    ]).double()
    torch.distributed.all_reduce(stats)
    count, total, squares = stats
    mean = total / count
    var = (squares / count - mean * mean).clamp_min(0.0)
    std = torch.where(count > 1, var.sqrt(), torch.ones_like(var))
    return mean.to(flat.dtype), std.to(flat.dtype)
