"""``mlp``: a residual MLP denoiser for data of any shape (2-D points, flat latents).

Small and fast on a CPU: the right denoiser for ``toy2d`` and for latent diffusion
over a VAE whose latent is a vector. Images work too (flattened), but the UNet
knows about neighbouring pixels and does better there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from genloom import Denoiser

from genloom_diffusion.embeddings import TimeEmbedding, check_prediction


class Block(nn.Module):
    """``h + MLP(norm(h) + emb)``: the time/label embedding enters every block."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.emb = nn.Linear(width, width)
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, width))

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        return h + self.net(self.norm(h) + self.emb(emb))


class MLPDenoiser(Denoiser):
    """Flattened ``x_t`` -> ``blocks`` residual blocks -> a prediction shaped like ``x_t``."""

    @dataclass
    class Config:
        hidden: int = 256
        blocks: int = 3
        prediction: str = "eps"

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], num_classes: int = 0,
                 timesteps: int = 1000) -> None:
        super().__init__()
        self.prediction = check_prediction(cfg.prediction)  # type: ignore[assignment]
        if cfg.hidden < 2 or cfg.blocks < 1:
            raise ValueError(f"mlp denoiser needs hidden >= 2 and blocks >= 1, got {cfg}")
        dim = math.prod(data_shape)
        self.embed = TimeEmbedding(cfg.hidden, cfg.hidden, num_classes)
        self.inp = nn.Linear(dim, cfg.hidden)
        self.blocks = nn.ModuleList(Block(cfg.hidden) for _ in range(cfg.blocks))
        self.out = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, dim))

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        emb = self.embed(t, cond)
        h = self.inp(x_t.flatten(1))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h).view_as(x_t)
