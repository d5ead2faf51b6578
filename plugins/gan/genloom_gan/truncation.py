"""``truncation``: the truncation trick, z drawn from a normal cut off at +-threshold.

Latents far out in the prior's tails decode to the least typical samples; redrawing
every coordinate whose magnitude exceeds ``threshold`` trades diversity for fidelity
(BigGAN's truncation trick). Works with any one-shot ``Generator`` with a latent prior,
so the VAE's decoder can use it too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Samples
from genloom.samplers.prior import PriorSampler


def truncated_normal(shape: tuple[int, ...], threshold: float, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal values with every |value| > ``threshold`` redrawn until inside."""
    z = torch.randn(shape, generator=generator)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z


class TruncationSampler(PriorSampler):
    """Decode latents from a truncated normal; ``threshold`` (e.g. 0.5-2) sets the cut."""

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        threshold: float = 1.0,
    ) -> Samples:
        if threshold <= 0:
            raise ConfigError(f"sampler option threshold must be > 0, got {threshold}")
        gen = self.check(model)
        z = truncated_normal((n, *gen.latent_shape), float(threshold), generator)
        return self.decode(model, z, cond)
