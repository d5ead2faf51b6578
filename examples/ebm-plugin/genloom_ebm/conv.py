"""``conv``: a small convolutional energy for square power-of-two images (8x8 and up).

Same form as the MLP energy (:mod:`genloom_ebm.mlp`): a learned part divided by
``sigma`` plus the quadratic energy of ``N(0, sigma_data^2 I)`` noised with ``sigma``.
The learned part is a residual conv net that halves the resolution down to 4x4 and
reads out one scalar; the noise level enters every block as a per-channel shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from genloom import ConfigError

from genloom_ebm.energy import EnergyNetwork, SigmaFeatures, check_positive


class ConvBlock(nn.Module):
    """``h + conv(act(norm(h)) + shift(emb))`` at one resolution."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(math.gcd(8, channels), channels)
        self.shift = nn.Linear(emb_dim, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.SiLU()

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        y = self.act(self.norm(h)) + self.shift(emb)[:, :, None, None]
        return h + self.conv2(self.act(self.conv1(y)))


class ConvEnergy(EnergyNetwork):
    """Conv blocks at each resolution from the image size down to 4x4, then a linear
    read-out to one scalar per example."""

    @dataclass
    class Config:
        channels: int = 32
        sigma_data: float = 0.5

    def __init__(self, cfg: Any, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        shape = tuple(data_shape)
        if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 8 or shape[1] & (shape[1] - 1):
            raise ConfigError(f"energy conv needs square power-of-two images of at least 8x8, got "
                              f"data shape {shape}; use model.energy.name=mlp")
        if cfg.channels < 1:
            raise ConfigError(f"model.energy.channels must be at least 1, got {cfg.channels}")
        check_positive(sigma_data=cfg.sigma_data)
        self.data_shape = shape
        self.sigma_data = float(cfg.sigma_data)
        ch, size, emb_dim = cfg.channels, shape[1], 4 * cfg.channels
        self.features = SigmaFeatures(emb_dim)
        self.inp = nn.Conv2d(shape[0], ch, 3, padding=1)
        self.blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        while True:
            self.blocks.append(ConvBlock(ch, emb_dim))
            if size == 4:
                break
            self.downs.append(nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1))
            ch, size = 2 * ch, size // 2
        self.out = nn.Sequential(nn.SiLU(), nn.Flatten(), nn.Linear(ch * 16, emb_dim), nn.SiLU(),
                                 nn.Linear(emb_dim, 1, bias=False))

    def energy(self, x: Tensor, sigma: Tensor) -> Tensor:
        c = (sigma.pow(2) + self.sigma_data**2).rsqrt()
        emb = self.features(sigma)
        h = self.inp(x * c[:, None, None, None])
        for i, block in enumerate(self.blocks):
            h = block(h, emb)
            if i < len(self.downs):
                h = self.downs[i](h)
        learned = self.out(h).squeeze(1) / sigma
        return learned + 0.5 * x.flatten(1).pow(2).sum(1) * c.pow(2)
