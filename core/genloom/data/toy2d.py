"""``toy2d``: two-dimensional point clouds (moons, swiss roll, 8 gaussians, checkerboard)
that show whether a model covers every mode. Drawn with numpy from one seeded generator;
moons and the swiss roll follow scikit-learn's distributions without needing it.
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
            pts = moons(rng, cfg.n, cfg.noise)
        elif cfg.shape == "swiss_roll":
            pts = swiss_roll(rng, cfg.n, cfg.noise)
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


def moons(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """Two interleaving half circles, shuffled, plus Gaussian noise of std ``noise``, as
    ``sklearn.datasets.make_moons`` draws them."""
    n_out = n // 2
    n_in = n - n_out
    outer = np.linspace(0, math.pi, n_out)
    inner = np.linspace(0, math.pi, n_in)
    pts = np.concatenate([
        np.stack([np.cos(outer), np.sin(outer)], axis=1),
        np.stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5], axis=1),
    ])
    pts = pts[rng.permutation(n)]
    return pts + rng.normal(scale=noise, size=pts.shape) if noise > 0 else pts


def swiss_roll(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    """The swiss roll seen from its axis, ``(t cos t, t sin t)`` with ``t`` uniform on
    ``[1.5 pi, 4.5 pi]`` plus noise (``make_swiss_roll``'s ``(x, z)`` columns)."""
    t = 1.5 * math.pi * (1 + 2 * rng.uniform(size=n))
    pts = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return pts + noise * rng.standard_normal(size=pts.shape)
