"""Encoders and decoders of the VAE plugin, each a registered component.

Every network is built as ``cls(cfg, data_shape=..., latent_dim=..., num_classes=...)``;
``num_classes > 0`` makes it label-conditional (a one-hot label joins the input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom import DiagonalGaussian, Encoder, Generator


def _one_hot(cond: Tensor | None, num_classes: int, batch: int, device: torch.device) -> Tensor:
    if num_classes == 0:
        return torch.zeros(batch, 0, device=device)
    if cond is None:
        raise ValueError("this network is conditional: pass class labels as cond")
    return F.one_hot(cond.long(), num_classes).float()


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.SiLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


@dataclass
class MLPConfig:
    """Options of the MLP encoder and decoder."""

    hidden: int = 256
    layers: int = 2


@dataclass
class ConvConfig:
    """Options of the conv encoder and decoder: channels of the first (last) layer."""

    channels: int = 32


class MLPEncoder(Encoder):
    """Flattened data (plus one-hot label) -> hidden layers -> Gaussian mean and log-variance."""

    Config = MLPConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.latent_shape = (latent_dim,)
        d = math.prod(data_shape)
        self.net = _mlp([d + num_classes] + [cfg.hidden] * cfg.layers + [2 * latent_dim])

    def encode(self, x: Tensor, cond: Tensor | None = None) -> DiagonalGaussian:
        h = torch.cat([x.flatten(1), _one_hot(cond, self.num_classes, len(x), x.device)], dim=1)
        mean, logvar = self.net(h).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar.clamp(-12, 8))


class MLPDecoder(Generator):
    """Latent (plus one-hot label) -> hidden layers -> data of ``data_shape``."""

    Config = MLPConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.latent_shape, self.data_shape = (latent_dim,), tuple(data_shape)
        self.net = _mlp([latent_dim + num_classes] + [cfg.hidden] * cfg.layers + [math.prod(data_shape)])

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        h = torch.cat([z, _one_hot(cond, self.num_classes, len(z), z.device)], dim=1)
        return self.net(h).view(len(z), *self.data_shape)


def _check_image(data_shape: tuple[int, ...]) -> tuple[int, int]:
    if len(data_shape) != 3 or data_shape[1] != data_shape[2] or data_shape[1] < 8 or (
        data_shape[1] & (data_shape[1] - 1)
    ):
        raise ValueError(
            f"conv networks need square power-of-two images of at least 8x8, got shape "
            f"{tuple(data_shape)}; use the mlp encoder/decoder for this data"
        )
    return data_shape[0], data_shape[1]


class ConvEncoder(Encoder):
    """Strided convolutions down to 4x4, then a linear head to mean and log-variance."""

    Config = ConvConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        c, size = _check_image(data_shape)
        self.num_classes = num_classes
        self.latent_shape = (latent_dim,)
        ch = cfg.channels
        layers: list[nn.Module] = [nn.Conv2d(c, ch, 3, padding=1), nn.SiLU()]
        while size > 4:
            layers += [nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1), nn.SiLU()]
            ch, size = ch * 2, size // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(ch * 16 + num_classes, 2 * latent_dim)

    def encode(self, x: Tensor, cond: Tensor | None = None) -> DiagonalGaussian:
        h = torch.cat([self.features(x), _one_hot(cond, self.num_classes, len(x), x.device)], 1)
        mean, logvar = self.head(h).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar.clamp(-12, 8))


class ConvDecoder(Generator):
    """A linear map to 4x4 features, then transposed convolutions up to the image size."""

    Config = ConvConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        c, size = _check_image(data_shape)
        self.num_classes = num_classes
        self.latent_shape, self.data_shape = (latent_dim,), tuple(data_shape)
        ups = int(math.log2(size // 4))
        self.top = cfg.channels * 2**ups
        self.project = nn.Linear(latent_dim + num_classes, self.top * 16)
        layers: list[nn.Module] = [nn.SiLU()]
        ch = self.top
        for _ in range(ups):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, stride=2, padding=1), nn.SiLU()]
            ch //= 2
        layers.append(nn.Conv2d(ch, c, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        h = torch.cat([z, _one_hot(cond, self.num_classes, len(z), z.device)], dim=1)
        return self.body(self.project(h).view(len(z), self.top, 4, 4))
