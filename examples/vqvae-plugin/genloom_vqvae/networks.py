"""The VQ-VAE's networks: a conv encoder that quantizes, and a conv decoder.

The encoder downsamples an image by strided convolutions to a ``grid x grid`` map of
``code_dim`` vectors and quantizes each with a :class:`~genloom_vqvae.codebook.Codebook`;
it is a :class:`genloom.DiscreteEncoder`, so :class:`genloom_diffusion.FirstStage`
(and any second stage) reads its codes and embeds codes without knowing this plugin.
The decoder is a :class:`genloom.Generator` from the code vectors back to the image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom import DiscreteEncoder, DiscreteLatent, Generator

from genloom_vqvae.codebook import Codebook


def downsamplings(data_shape: tuple[int, ...], grid: int) -> int:
    """How many stride-2 steps take a square image of ``data_shape`` to ``grid x grid``.

    The model checks the shapes first (with a one-line config error); this is the
    arithmetic only."""
    return int(math.log2(data_shape[1] // grid))


class Residual(nn.Module):
    """``x + conv1x1(silu(conv3x3(silu(x))))``: depth without changing the shape."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.SiLU(), nn.Conv2d(channels, channels, 3, padding=1),
            nn.SiLU(), nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ConvEncoder(DiscreteEncoder):
    """Image ``(c, s, s)`` -> ``(code_dim, grid, grid)`` vectors -> nearest codebook codes.

    :meth:`encode` returns a :class:`genloom.DiscreteLatent` whose ``quantized`` carries
    the straight-through gradient (the decoder's gradient is copied onto the encoder
    output) and whose ``losses`` hold the unweighted ``commitment`` term
    ``|z - sg(e)|^2`` (mean over elements); the owner weights it.
    """

    def __init__(self, data_shape: tuple[int, ...], *, grid: int, code_dim: int, num_codes: int,
                 channels: int, res_blocks: int, decay: float, restart_below: float) -> None:
        super().__init__()
        c = data_shape[0]
        self.num_codes, self.code_shape = num_codes, (grid, grid)
        self.latent_shape = (code_dim, grid, grid)
        layers: list[nn.Module] = [nn.Conv2d(c, channels, 3, padding=1)]
        for _ in range(downsamplings(data_shape, grid)):
            layers += [nn.SiLU(), nn.Conv2d(channels, channels, 4, stride=2, padding=1)]
        layers += [Residual(channels) for _ in range(res_blocks)]
        layers += [nn.SiLU(), nn.Conv2d(channels, code_dim, 1)]
        self.net = nn.Sequential(*layers)
        self.codebook = Codebook(num_codes, code_dim, decay=decay, restart_below=restart_below)

    def features(self, x: Tensor) -> Tensor:
        """The encoder's continuous output ``(n, code_dim, grid, grid)``, before quantizing."""
        return self.net(x)

    def quantize(self, z: Tensor) -> DiscreteLatent:
        """Codes of the feature map ``z`` and their vectors (straight-through)."""
        n, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        with torch.no_grad():
            codes = self.codebook.nearest(flat.float()).view(n, h, w)
        e = self.embed(codes).to(z.dtype)
        commitment = F.mse_loss(z, e.detach())
        quantized = z + (e - z).detach()
        return DiscreteLatent(codes, self.num_codes, quantized, {"commitment": commitment})

    def encode(self, x: Tensor, cond: Tensor | None = None) -> DiscreteLatent:
        return self.quantize(self.features(x))

    def embed(self, codes: Tensor) -> Tensor:
        """``(n, grid, grid)`` codes -> ``(n, code_dim, grid, grid)`` vectors."""
        return self.codebook.embed(codes).permute(0, 3, 1, 2)


class ConvDecoder(Generator):
    """``(code_dim, grid, grid)`` code vectors -> image ``(c, s, s)`` (unbounded; data is in [-1, 1])."""

    def __init__(self, data_shape: tuple[int, ...], *, grid: int, code_dim: int, channels: int,
                 res_blocks: int) -> None:
        super().__init__()
        self.latent_shape, self.data_shape = (code_dim, grid, grid), tuple(data_shape)
        layers: list[nn.Module] = [nn.Conv2d(code_dim, channels, 3, padding=1)]
        layers += [Residual(channels) for _ in range(res_blocks)]
        for _ in range(downsamplings(data_shape, grid)):
            layers += [nn.SiLU(), nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)]
        layers += [nn.SiLU(), nn.Conv2d(channels, data_shape[0], 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.net(z)
