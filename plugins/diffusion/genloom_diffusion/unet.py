"""``unet``: a small UNet denoiser for square images, 8x8 and up, whose side halves
evenly at every level (a power of two, or e.g. 28x28 MNIST at 28, 14 and 7).

The DDPM layout, scaled down: residual blocks with GroupNorm that take the
time (and class) embedding, a stride-2 convolution between resolutions, skip
connections from each block on the way down to one on the way up, and
self-attention at the lowest resolution. ``channel_mult`` sets one level per entry,
so ``[1, 2]`` on 8x8 digits works at 8x8 and 4x4, and ``[1, 2, 2, 2]`` on 32x32
images at 32, 16, 8 and 4. MNIST need not be padded to 32x32: ``[1, 2, 2]`` on 28x28
works at 28, 14 and 7, 23 % fewer pixels per layer than padding to 32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom import Denoiser

from genloom_diffusion.embeddings import TimeEmbedding, check_prediction


class ResBlock(nn.Module):
    """Norm, SiLU, conv; add the embedding; norm, SiLU, dropout, conv; plus the input."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, residual."""

    def __init__(self, channels: int, heads: int, groups: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2),
                                             v.transpose(-1, -2))
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class Down(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Up(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _check_shape(data_shape: tuple[int, ...], levels: int) -> tuple[int, int]:
    """``(channels, size)`` of a square image the UNet's levels can halve evenly: every
    stride-2 convolution must give exactly half, or the upsampled map would not match its
    skip connection."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ValueError(
            f"unet needs images (channels, size, size), got shape {tuple(data_shape)}; "
            "use model.denoiser.name=mlp for this data"
        )
    channels, size = data_shape[0], data_shape[1]
    if size < 8:
        raise ValueError(f"unet needs an image size of at least 8, got {size}x{size}")
    if size >> (levels - 1) < 2:
        raise ValueError(
            f"channel_mult has {levels} levels, which halves {size}x{size} below 2x2; "
            "use fewer levels"
        )
    if size % (1 << (levels - 1)):
        raise ValueError(
            f"channel_mult has {levels} levels, which halve {size}x{size} {levels - 1} times, "
            f"but {size} is not divisible by {1 << (levels - 1)}; use fewer levels or pad the images"
        )
    return channels, size


class UNet(Denoiser):
    """The denoiser for images; see the module docstring for the layout."""

    @dataclass
    class Config:
        channels: int = 32
        channel_mult: list[int] = field(default_factory=lambda: [1, 2])
        blocks: int = 2
        attention: bool = True
        heads: int = 4
        groups: int = 8
        dropout: float = 0.0
        prediction: str = "eps"

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], num_classes: int = 0,
                 timesteps: int = 1000) -> None:
        super().__init__()
        self.prediction = check_prediction(cfg.prediction)  # type: ignore[assignment]
        mult = list(cfg.channel_mult)
        if not mult or cfg.blocks < 1:
            raise ValueError("unet needs at least one level (channel_mult) and blocks >= 1")
        image_channels, _ = _check_shape(data_shape, len(mult))
        widths = [cfg.channels * m for m in mult]
        if any(w % cfg.groups for w in widths):
            raise ValueError(f"every level's width {widths} must be a multiple of groups={cfg.groups}")
        if cfg.attention and widths[-1] % cfg.heads:
            raise ValueError(f"the lowest level's width {widths[-1]} must be a multiple of heads={cfg.heads}")
        emb_dim = 4 * cfg.channels
        block = lambda a, b: ResBlock(a, b, emb_dim, cfg.groups, cfg.dropout)  # noqa: E731

        self.embed = TimeEmbedding(cfg.channels, emb_dim, num_classes)
        self.inp = nn.Conv2d(image_channels, cfg.channels, 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch = [cfg.channels], cfg.channels
        for level, width in enumerate(widths):
            for _ in range(cfg.blocks):
                self.down.append(block(ch, width))
                ch = width
                skips.append(ch)
            if level < len(widths) - 1:
                self.down.append(Down(ch))
                skips.append(ch)
        self.mid1 = block(ch, ch)
        self.mid_attn = Attention(ch, cfg.heads, cfg.groups) if cfg.attention else nn.Identity()
        self.mid2 = block(ch, ch)
        self.up = nn.ModuleList()
        for level, width in reversed(list(enumerate(widths))):
            for _ in range(cfg.blocks + 1):
                self.up.append(block(ch + skips.pop(), width))
                ch = width
            if level > 0:
                self.up.append(Up(ch))
        self.out = nn.Sequential(nn.GroupNorm(cfg.groups, ch), nn.SiLU(),
                                 nn.Conv2d(ch, image_channels, 3, padding=1))

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        emb = self.embed(t, cond)
        h = self.inp(x_t)
        skips = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.out(h)
