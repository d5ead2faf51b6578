"""Stage 1, ``vqvae``: an autoencoder whose latent is a grid of discrete codes.

Loss = reconstruction (mean squared error per pixel) + ``beta`` x commitment; the
codebook follows the encoder by EMA updates made here, in :meth:`VQVAE.losses`,
when the model is training (see :mod:`genloom_vqvae.codebook` for why EMA).

A VQ-VAE alone is not a sampler of data: its stage-1 objective assumes a uniform
prior over codes, and decoding uniformly random codes gives blots, not digits. So
``default_sampler`` is None (``genloom sample`` on a stage-1 run says to name a
sampler); ``--sampler uniform_codes`` shows what random codes decode to, and the
``vq-prior`` model trained on this run's codes is what generates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from genloom import ConfigError, DataInfo, GenerativeModel

from genloom_vqvae.codebook import Codebook
from genloom_vqvae.networks import ConvDecoder, ConvEncoder


class VQVAE(GenerativeModel):
    """Conv encoder -> EMA codebook (straight-through) -> conv decoder."""

    likelihood = "none"  # mean squared error and commitment: not a likelihood or bound
    has_latent_space = False  # the latent is codes, not N(0, I): the core's prior sampler does not apply
    default_sampler = None  # type: ignore[assignment]  # stage 1 does not generate on its own

    @dataclass
    class Config:
        #: codebook size K
        num_codes: int = 64
        #: size of each code vector
        code_dim: int = 16
        #: side of the code grid: 8x8 images with grid 4 give 16 codes per image
        grid: int = 4
        #: conv channels of encoder and decoder
        channels: int = 64
        #: residual blocks at the grid resolution, in the encoder and in the decoder
        res_blocks: int = 1
        #: weight of the commitment loss |z - sg(e)|^2
        beta: float = 0.25
        #: EMA decay of the codebook per training step
        ema_decay: float = 0.99
        #: restart a code whose EMA count of assignments per batch falls below this (0: never)
        restart_below: float = 1.0

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        _check(cfg, info)
        shape = tuple(info.shape)
        common = dict(grid=cfg.grid, code_dim=cfg.code_dim, channels=cfg.channels,
                      res_blocks=cfg.res_blocks)
        self.encoder = ConvEncoder(shape, num_codes=cfg.num_codes, decay=cfg.ema_decay,
                                   restart_below=cfg.restart_below, **common)
        self.decoder = ConvDecoder(shape, **common)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        x = batch["x"]
        z = self.encoder.features(x)
        latent = self.encoder.quantize(z)
        if self.training:  # the codebook's per-step state: an EMA step on this batch
            flat = z.detach().permute(0, 2, 3, 1).reshape(-1, z.shape[1])
            self.encoder.codebook.update(flat, latent.codes.flatten())
        recon = (self.decoder(latent.quantized) - x).pow(2).mean()
        commitment = latent.losses["commitment"]
        return {
            "loss": recon + self.cfg.beta * commitment,
            "recon": recon,
            "commitment": commitment,
            "perplexity": Codebook.perplexity(latent.codes, self.cfg.num_codes),
        }


def _check(cfg: Any, info: DataInfo) -> None:
    """One-line errors for values the schema's types cannot rule out."""
    if info.kind != "image" or len(info.shape) != 3:
        raise ConfigError(f"vqvae models images (channels, height, width), not {info.kind!r} data")
    _, h, w = info.shape
    if h != w:
        raise ConfigError(f"vqvae needs square images, got {h}x{w}")
    if cfg.grid < 1 or h % cfg.grid or not math.log2(h // cfg.grid).is_integer():
        raise ConfigError(
            f"model.grid={cfg.grid} must divide the image side {h} by a power of two "
            f"(e.g. {h // 2} or {max(1, h // 4)})"
        )
    for key in ("num_codes", "code_dim", "channels"):
        if cfg[key] < (2 if key == "num_codes" else 1):
            raise ConfigError(f"model.{key} must be at least {2 if key == 'num_codes' else 1}, got {cfg[key]}")
    if cfg.res_blocks < 0:
        raise ConfigError(f"model.res_blocks must be >= 0, got {cfg.res_blocks}")
    if cfg.beta < 0:
        raise ConfigError(f"model.beta must be >= 0, got {cfg.beta}")
    if not 0 < cfg.ema_decay < 1:
        raise ConfigError(f"model.ema_decay must be in (0, 1), got {cfg.ema_decay}")
    if cfg.restart_below < 0:
        raise ConfigError(f"model.restart_below must be >= 0 (0 turns restarts off), got {cfg.restart_below}")
