"""Generator and discriminator networks of the GAN plugin, each a registered component.

Every network is built as ``cls(cfg, data_shape=..., latent_dim=..., num_classes=...)``.
With ``num_classes > 0`` the generator takes a learned label embedding beside ``z`` and
the discriminator adds a projection term (the inner product of a label embedding with
its features), the usual way to make both players label-aware.

The projection's embedding starts at the scale of the linear head beside it (PyTorch's
``nn.Linear`` init), not ``nn.Embedding``'s N(0, 1): over the 4,096 flattened features
of a 32x32 DCGAN the N(0, 1) projection's output was ~185x the head's at the start
(~95x on 8x8 digits), so the critic scored little but one random direction per class,
and with Adam's small relative steps on large weights it stayed so; the generator,
maximising that linear term, is pushed toward one image per class.
tests/benchmarks/bench_cgan_diversity.py measures within-class diversity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genloom import Generator


def _label(embed: nn.Embedding | None, cond: Tensor | None, batch: int) -> Tensor | None:
    if embed is None:
        return None
    if cond is None:
        raise ValueError("this network is conditional: pass class labels as cond")
    if len(cond) != batch:
        raise ValueError(f"got {len(cond)} labels for a batch of {batch}")
    return embed(cond.long())


def _image_levels(data_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(base, levels)``: the image side is ``base * 2**levels`` with ``base`` in 4..7.

    The networks work at ``base x base`` and double (or halve) ``levels`` times, so
    28x28 MNIST is built from 7x7 in two steps instead of being padded to 32x32 (which
    costs about 1.3x the pixels and an extra level). Power-of-two sides keep base 4.
    """
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ValueError(f"dcgan networks need square (c, h, w) images, got shape {tuple(data_shape)}")
    size = base = data_shape[1]
    levels = 0
    while base > 7 and base % 2 == 0:
        base, levels = base // 2, levels + 1
    if base < 4 or base > 7 or levels == 0:
        raise ValueError(
            f"dcgan networks need an image side of 4 to 7 times a power of two, from 8 up "
            f"(8, 14, 16, 28, 32 ...), got {size}x{size}; pad the images (data.pad) or use the mlp networks"
        )
    return base, levels


def projection_embedding(num_classes: int, dim: int) -> nn.Embedding | None:
    """The discriminator's label embedding, initialised like a linear layer of ``dim``
    inputs (uniform in +-1/sqrt(dim)), so the projection term starts no larger than the head."""
    if not num_classes:
        return None
    embed = nn.Embedding(num_classes, dim)
    nn.init.uniform_(embed.weight, -dim**-0.5, dim**-0.5)
    return embed


class _Discriminator(nn.Module):
    """Features of the input, then an unbounded realness score per example (logits)."""

    features: nn.Module
    head: nn.Linear
    embed: nn.Embedding | None

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = self.features(x)
        out = self.head(h).squeeze(1)
        label = _label(self.embed, cond, len(x))
        if label is not None:
            out = out + (label * h).sum(dim=1)
        return out


@dataclass
class DCGANConfig:
    """Options of the DCGAN pair: channels at full resolution (doubling per halving)."""

    channels: int = 32


class DCGANGenerator(Generator):
    """z (+ label embedding) -> base x base feature map (4x4; 7x7 for 28x28) -> x2
    transposed convs -> tanh image."""

    Config = DCGANConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        base, levels = _image_levels(data_shape)
        self.latent_shape, self.data_shape = (latent_dim,), tuple(data_shape)
        width = cfg.channels * 2**levels
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.project = nn.Sequential(
            nn.Linear(latent_dim * (2 if num_classes else 1), width * base * base),
            nn.Unflatten(1, (width, base, base)),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        ups: list[nn.Module] = []
        for _ in range(levels):
            ups += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        self.upsample = nn.Sequential(*ups)
        self.to_image = nn.Sequential(nn.Conv2d(width, data_shape[0], 3, padding=1), nn.Tanh())

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        label = _label(self.embed, cond, len(z))
        h = z if label is None else torch.cat([z, label], dim=1)
        return self.to_image(self.upsample(self.project(h)))


class MinibatchStd(nn.Module):
    """Appends one channel: the features' standard deviation across the batch, averaged.

    The discriminator then sees how varied a batch is, not only how real each example
    looks, which is meant to catch a generator that draws one image (per class).
    StyleGAN's minibatch standard deviation, over the whole batch (real and fake batches
    are scored separately). On 28x28 MNIST it did not stop a class-conditional DCGAN
    from collapsing to one digit per class on its own (recall 0.01 after 842 batches);
    ``model.mode_seeking`` did (docs/results.md).
    """

    def forward(self, x: Tensor) -> Tensor:
        if len(x) < 2:
            std = torch.zeros(1, device=x.device, dtype=x.dtype)
        else:
            std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean().reshape(1)
        return torch.cat([x, std.expand(len(x), 1, *x.shape[2:])], dim=1)


@dataclass
class DCGANDiscriminatorConfig(DCGANConfig):
    """Options of the DCGAN discriminator: channels, and the minibatch-std channel."""

    #: append the batch's feature standard deviation as a channel before the head
    minibatch_std: bool = False


class DCGANDiscriminator(_Discriminator):
    """Image -> x2 strided convs down to base x base (4x4; 7x7 for 28x28) -> linear
    score (+ label projection); with ``minibatch_std`` a batch-diversity channel first."""

    Config = DCGANDiscriminatorConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int = 0, num_classes: int = 0):
        super().__init__()
        base, levels = _image_levels(data_shape)
        width = cfg.channels
        layers: list[nn.Module] = [nn.Conv2d(data_shape[0], width, 3, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(levels):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1), nn.LeakyReLU(0.2)]
            width *= 2
        if cfg.minibatch_std:
            layers.append(MinibatchStd())
            width += 1
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * base * base, 1)
        self.embed = projection_embedding(num_classes, width * base * base)


@dataclass
class MLPConfig:
    """Options of the MLP pair."""

    hidden: int = 128
    layers: int = 3


class MLPGenerator(Generator):
    """z (+ label embedding) -> hidden layers -> data of ``data_shape`` (unbounded)."""

    Config = MLPConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int, num_classes: int = 0):
        super().__init__()
        self.latent_shape, self.data_shape = (latent_dim,), tuple(data_shape)
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        sizes = [latent_dim * (2 if num_classes else 1)] + [cfg.hidden] * cfg.layers
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(sizes[-1], math.prod(data_shape)), nn.Unflatten(1, tuple(data_shape))]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        label = _label(self.embed, cond, len(z))
        return self.net(z if label is None else torch.cat([z, label], dim=1))


class MLPDiscriminator(_Discriminator):
    """Flattened data -> hidden layers -> linear score (+ label projection)."""

    Config = MLPConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], latent_dim: int = 0, num_classes: int = 0):
        super().__init__()
        sizes = [math.prod(data_shape)] + [cfg.hidden] * cfg.layers
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cfg.hidden, 1)
        self.embed = projection_embedding(num_classes, cfg.hidden)
