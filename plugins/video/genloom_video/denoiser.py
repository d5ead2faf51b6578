"""``spacetime``: a factorised space-time denoiser for clips ``(n, frames, c, h, w)``.

Full 3-D convolutions or joint space-time attention cost too much for a CPU; the
factorised form (Ho et al., 2022, "Video diffusion models") mixes space and time in
separate layers: each block is a 3x3 convolution applied to every frame on its own,
then a size-3 convolution along time at every pixel, with a residual around both. One
strided level halves the frame side. The diffusion timestep enters every block as an
added per-channel embedding. A size-3 temporal convolution per block reaches only a
frame or two either side; ``attention: true`` adds self-attention along time after each
half-resolution block (Ho et al.'s temporal attention), zero-initialised like the
temporal convolutions, so every frame sees every other.

The first frame, when given as ``cond`` (``(n, c, h, w)`` in [-1, 1]), is fed to every
frame as extra input channels with a flag channel set to 1; without it those channels
are 0. The model trains with the frame dropped part of the time, so one network both
continues a given frame (``video:predict``) and makes clips from nothing (any
diffusion sampler).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genloom import ConfigError, Denoiser


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal ``(n, dim)`` embeddings of integer timesteps."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


def _groups(channels: int) -> int:
    return math.gcd(8, channels)


class TemporalAttention(nn.Module):
    """Self-attention along time at every pixel (all frames see each other), residual,
    its output projection zero-initialised so the block starts as it was."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.attn = nn.MultiheadAttention(channels, heads if channels % heads == 0 else 1, batch_first=True)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, x: Tensor, frames: int) -> Tensor:
        nt, c, h, w = x.shape
        n = nt // frames
        z = self.norm(x).reshape(n, frames, c, h, w).permute(0, 3, 4, 1, 2).reshape(n * h * w, frames, c)
        z = self.attn(z, z, z, need_weights=False)[0]
        return x + z.reshape(n, h, w, frames, c).permute(0, 3, 4, 1, 2).reshape(nt, c, h, w)


class SpaceTimeBlock(nn.Module):
    """Per-frame 3x3 convolution, then a temporal convolution; residual; timestep added."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(channels), channels)
        self.spatial = nn.Conv2d(channels, channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, channels)
        self.norm2 = nn.GroupNorm(_groups(channels), channels)
        self.temporal = nn.Conv1d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.temporal.weight)  # starts as a per-frame network
        nn.init.zeros_(self.temporal.bias)

    def forward(self, x: Tensor, emb: Tensor, frames: int) -> Tensor:
        # x: (n * frames, c, h, w); emb: (n, emb_dim)
        nt, c, h, w = x.shape
        n = nt // frames
        y = self.spatial(nn.functional.silu(self.norm1(x)))
        y = y + self.emb(emb).repeat_interleave(frames, 0)[:, :, None, None]
        x = x + y
        z = nn.functional.silu(self.norm2(x))
        z = z.reshape(n, frames, c, h, w).permute(0, 3, 4, 2, 1).reshape(n * h * w, c, frames)
        z = self.temporal(z).reshape(n, h, w, c, frames).permute(0, 4, 3, 1, 2).reshape(nt, c, h, w)
        return x + z


class SpaceTimeDenoiser(Denoiser):
    """Denoiser over clips: ``forward(x_t, t, cond=None)``, ``cond`` the first frame or None."""

    @dataclass
    class Config:
        channels: int = 32
        #: space-time blocks at full and at half resolution
        blocks: int = 2
        #: what the network outputs: eps, x0 or v (the CPU example uses v: its short runs
        #: sampled clean frames where eps left frames of noise)
        prediction: str = "eps"
        #: temporal self-attention after each half-resolution block (every frame sees all)
        attention: bool = False

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], num_classes: int = 0, timesteps: int = 1000,
                 **_: Any) -> None:
        super().__init__()
        if len(data_shape) != 4:
            raise ConfigError(f"denoiser spacetime needs clips (frames, channels, height, width), "
                              f"got data of shape {tuple(data_shape)} (data.name=moving_mnist)")
        frames, c, h, w = data_shape
        if h % 2 or w % 2:
            raise ConfigError(f"denoiser spacetime halves the frame once: data.size must be even, got {h}x{w}")
        if cfg.channels < 1 or cfg.blocks < 1:
            raise ConfigError("model.denoiser.channels and model.denoiser.blocks must be at least 1")
        if cfg.prediction not in ("eps", "x0", "v"):
            raise ConfigError(f"model.denoiser.prediction={cfg.prediction}: give eps, x0 or v")
        self.prediction = cfg.prediction
        self.frames, self.data_channels = frames, c
        ch, emb = cfg.channels, 4 * cfg.channels
        self.emb = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv2d(2 * c + 1, ch, 3, padding=1)
        self.high = nn.ModuleList(SpaceTimeBlock(ch, emb) for _ in range(cfg.blocks))
        self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.low = nn.ModuleList(SpaceTimeBlock(2 * ch, emb) for _ in range(cfg.blocks))
        self.low_attn = nn.ModuleList(TemporalAttention(2 * ch) for _ in range(cfg.blocks)) if cfg.attention else None
        self.up = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1)
        self.out = nn.Sequential(nn.GroupNorm(_groups(ch), ch), nn.SiLU(), nn.Conv2d(ch, c, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)
        self.channels = ch

    def forward(self, x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.denoise(x, t, cond, None)

    def denoise(self, x: Tensor, t: Tensor, first: Tensor | None, keep: Tensor | None) -> Tensor:
        """The prediction for clips ``x`` at ``t``, given ``first`` frames ``(n, c, h, w)``
        where ``keep`` (``(n,)`` bool; None: all) is True and no frame elsewhere."""
        n, frames, c, h, w = x.shape
        ctx = torch.zeros((n, c + 1, h, w), dtype=x.dtype, device=x.device)
        if first is not None:
            given = torch.cat([first.to(x.dtype), torch.ones((n, 1, h, w), dtype=x.dtype, device=x.device)], 1)
            ctx = given if keep is None else torch.where(keep[:, None, None, None], given, ctx)
        inp = torch.cat([x, ctx[:, None].expand(n, frames, c + 1, h, w)], 2).reshape(n * frames, 2 * c + 1, h, w)
        emb = self.emb(timestep_embedding(t, self.channels))
        hi = self.inp(inp)
        for block in self.high:
            hi = block(hi, emb, frames)
        lo = self.down(hi)
        for i, block in enumerate(self.low):
            lo = block(lo, emb, frames)
            if self.low_attn is not None:
                lo = self.low_attn[i](lo, frames)
        y = self.out(hi + self.up(lo))
        return y.reshape(n, frames, c, h, w)
