"""``toy2d``: two-dimensional point clouds (moons, swiss roll, 8 gaussians, checkerboard).

Small, fast and easy to look at, they show whether a model covers every mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genloom.data.base import InMemoryDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError, did_you_mean

SHAPES = ("moons", "swiss_roll", "gaussians8", "checkerboard")


class Toy2D(InMemoryDataset):
    """Points of shape ``(2,)``, scaled to roughly unit standard deviation."""

    @dataclass
    class Config:
        shape: str = "moons"
        n: int = 8000
        noise: float = 0.05
        seed: int = 0

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        if cfg.shape not in SHAPES:
            raise ConfigError(
                f"data.shape: unknown toy2d shape '{cfg.shape}'{did_you_mean(cfg.shape, SHAPES)}; "
                f"valid choices: {', '.join(SHAPES)}"
            )

    @property
    def info(self) -> DataInfo:
        return DataInfo(kind="points", shape=(2,))

    def load_arrays(self) -> tuple[Tensor, None]:
        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed)
        if cfg.shape == "moons":
            from sklearn.datasets import make_moons

            pts, _ = make_moons(cfg.n, noise=cfg.noise, random_state=cfg.seed)
        elif cfg.shape == "swiss_roll":
            from sklearn.datasets import make_swiss_roll

            pts3, _ = make_swiss_roll(cfg.n, noise=cfg.noise, random_state=cfg.seed)
            pts = pts3[:, [0, 2]]
        elif cfg.shape == "gaussians8":
            angles = rng.integers(0, 8, cfg.n) * (2 * math.pi / 8)
            centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.0
            pts = centres + rng.normal(scale=max(cfg.noise, 1e-3) * 2, size=(cfg.n, 2))
        else:  # checkerboard
            x1 = rng.uniform(-2, 2, cfg.n)
            x2 = rng.uniform(0, 1, cfg.n) + rng.integers(0, 2, cfg.n) * 2 - 2 + (np.floor(x1) % 2)
            pts = np.stack([x1, x2], axis=1)
        pts = (pts - pts.mean(0)) / pts.std(0)
        return torch.tensor(pts, dtype=torch.float32), None
