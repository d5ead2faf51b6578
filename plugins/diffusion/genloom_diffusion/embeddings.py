"""What every denoiser of this plugin feeds its layers besides ``x_t``: the timestep
and, for a conditional model, the class label.

Label convention shared with the samplers: a conditional denoiser built with
``num_classes=K`` takes labels ``0 .. K-1`` and the extra label ``K``, "no label",
which classifier-free guidance trains (condition dropout) and samples with;
``cond=None`` means "no label" for the whole batch.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """``(n,)`` timesteps as ``(n, dim)`` sines and cosines of geometrically spaced
    frequencies (the Transformer's position encoding, as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    return nn.functional.pad(emb, (0, dim % 2))


class TimeEmbedding(nn.Module):
    """Sinusoidal features of ``t`` through a two-layer MLP, plus a learned label vector."""

    def __init__(self, base: int, dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.base, self.num_classes = base, num_classes
        self.mlp = nn.Sequential(nn.Linear(base, dim), nn.SiLU(), nn.Linear(dim, dim))
        # one row per class plus the "no label" row (index num_classes)
        self.labels = nn.Embedding(num_classes + 1, dim) if num_classes else None

    def forward(self, t: Tensor, cond: Tensor | None = None) -> Tensor:
        emb = self.mlp(sinusoidal(t, self.base))
        if self.labels is not None:
            if cond is None:
                cond = torch.full((len(t),), self.num_classes, dtype=torch.long, device=t.device)
            emb = emb + self.labels(cond.long())
        return emb


def check_prediction(kind: str) -> str:
    """``kind`` if it is a prediction kind the schedule converts, else a ValueError."""
    if kind not in ("eps", "x0", "v"):
        raise ValueError(f"prediction must be eps, x0 or v, got {kind!r}")
    return kind
