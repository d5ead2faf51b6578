"""``mlp``: a residual MLP energy for data of any shape (2-D points, flattened images).

The energy is a learned part plus a fixed quadratic:
``E(x, sigma) = f(c x, sigma) / sigma + |x|^2 c^2 / 2`` with
``c = 1 / sqrt(sigma^2 + sigma_data^2)``. The quadratic is the exact energy of
``N(0, sigma_data^2 I)`` data noised with ``sigma``, so at large ``sigma`` (where every
data set looks like that Gaussian) the network has almost nothing left to learn and
the energy always grows towards infinity, which keeps Langevin chains from drifting
away. Scaling the input by ``c`` keeps what ``f`` sees at unit scale at every level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from genloom import ConfigError

from genloom_ebm.energy import EnergyNetwork, SigmaFeatures, check_positive


class Block(nn.Module):
    """``h + MLP(norm(h) + emb)``: the noise level enters every block. SiLU, not ReLU:
    the training loss differentiates the score, so the network must be twice smooth."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.emb = nn.Linear(width, width)
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        return h + self.net(self.norm(h) + self.emb(emb))


class MLPEnergy(EnergyNetwork):
    """Flattened ``c x`` -> ``layers`` residual blocks -> one scalar per example."""

    @dataclass
    class Config:
        hidden: int = 128
        layers: int = 3
        #: the data's scale: the quadratic part is the energy of N(0, sigma_data^2 I)
        sigma_data: float = 1.0

    def __init__(self, cfg: Any, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        if cfg.hidden < 2 or cfg.layers < 1:
            raise ConfigError(f"energy mlp needs hidden >= 2 and layers >= 1, got hidden={cfg.hidden}, "
                              f"layers={cfg.layers}")
        check_positive(sigma_data=cfg.sigma_data)
        self.data_shape = tuple(data_shape)
        self.sigma_data = float(cfg.sigma_data)
        self.features = SigmaFeatures(cfg.hidden)
        self.inp = nn.Linear(math.prod(data_shape), cfg.hidden)
        self.blocks = nn.ModuleList(Block(cfg.hidden) for _ in range(cfg.layers))
        self.out = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, 1, bias=False))

    def energy(self, x: Tensor, sigma: Tensor) -> Tensor:
        c = (sigma.pow(2) + self.sigma_data**2).rsqrt()
        flat = x.flatten(1)
        emb = self.features(sigma)
        h = self.inp(flat * c[:, None])
        for block in self.blocks:
            h = block(h, emb)
        learned = self.out(h).squeeze(1) / sigma
        return learned + 0.5 * flat.pow(2).sum(1) * c.pow(2)
