"""A small UNet whose middle and lower levels attend to a prompt's token states.

Three levels (side ``S``, ``S/2``, ``S/4``; ``S`` a multiple of 4, e.g. 28 -> 14 -> 7) of
residual conv blocks with the timestep added per channel; at ``S/2`` and ``S/4`` each
block is followed by cross-attention: the image positions are the queries, the text
encoder's states (with its padding masked out) the keys and values, as in latent
diffusion's UNet (Rombach et al., 2022). With ``pooled`` the prompt also
reaches every block globally: the masked mean of its token states, projected, is added
to the timestep embedding (as Imagen and SDXL add a pooled text vector): a direct path
from the whole prompt to every block, beside the position-wise one. The text encoder is
a submodule, so it trains with the UNet (and its EMA copy moves with it); ``cond`` is the prompt's token ids.

The same UNet runs on a first stage's latents (``t2i`` with ``model.latent``): a square
latent grid ``(c, s, s)`` of any side is zero-padded on the right and bottom up to a
multiple of 4 and the output cropped back (a 7x7 grid runs at 8x8), and a flat latent
``(d,)`` (an MLP VAE's) is a ``(d, 1, 1)`` grid, so the network becomes a per-position
MLP with cross-attention from its one real position to the prompt.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genloom import Denoiser


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features ``(n, dim)`` of integer timesteps ``t``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


def pooled_states(states: Tensor, mask: Tensor) -> Tensor:
    """The mean of the token states ``(n, L, d)`` over the unmasked positions: ``(n, d)``."""
    w = mask.to(states.dtype)[..., None]
    return (states * w).sum(1) / w.sum(1).clamp(min=1.0)


def groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups(cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(tdim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups(cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, temb: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return self.skip(x) + h


class CrossAttention(nn.Module):
    """Image positions attend to text states; residual, pre-normed."""

    def __init__(self, channels: int, text_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = nn.GroupNorm(groups(channels), channels)
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(text_dim, 2 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: Tensor, states: Tensor, mask: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q = self.q(self.norm(x).flatten(2).transpose(1, 2))  # (n, hw, c)
        k, v = self.kv(states).chunk(2, dim=-1)  # (n, L, c)
        split = lambda z: z.view(n, z.shape[1], self.heads, c // self.heads).transpose(1, 2)  # noqa: E731
        attn = nn.functional.scaled_dot_product_attention(
            split(q), split(k), split(v), attn_mask=mask[:, None, None, :])
        out = self.out(attn.transpose(1, 2).reshape(n, h * w, c))
        return x + out.transpose(1, 2).view(n, c, h, w)


class CrossAttentionUNet(Denoiser):
    """Predicts ``prediction`` (``eps``, ``x0`` or ``v``) for ``x_t`` given the timestep and
    the prompt's token ids."""

    prediction = "eps"

    def __init__(self, data_shape: tuple[int, ...], text_encoder: nn.Module, channels: int = 32,
                 heads: int = 4, pooled: bool = False, prediction: str = "eps") -> None:
        super().__init__()
        self.prediction = prediction
        self.data_shape = tuple(int(v) for v in data_shape)
        if len(self.data_shape) == 1:  # a flat latent: a 1x1 grid of d channels
            data_shape = (self.data_shape[0], 1, 1)
        if len(data_shape) != 3 or data_shape[1] != data_shape[2] or min(data_shape) < 1:
            raise ValueError(f"the t2i UNet needs square images (or latents (c, s, s) or (d,)), "
                             f"got shape {tuple(self.data_shape)}")
        cin, side = data_shape[0], data_shape[-1]
        #: rows and columns of zeros added so that the side is a multiple of 4
        self.pad = -side % 4
        c, tdim = channels, 4 * channels
        self.text = text_encoder
        tx = int(text_encoder.dim)
        self.time = nn.Sequential(nn.Linear(c, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.pool = nn.Sequential(nn.Linear(tx, tdim), nn.SiLU(), nn.Linear(tdim, tdim)) if pooled else None
        self.inp = nn.Conv2d(cin, c, 3, padding=1)
        self.down0 = ResBlock(c, c, tdim)
        self.pool1 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down1, self.attn1 = ResBlock(c, 2 * c, tdim), CrossAttention(2 * c, tx, heads)
        self.pool2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid, self.attn_mid = ResBlock(2 * c, 2 * c, tdim), CrossAttention(2 * c, tx, heads)
        self.mid2 = ResBlock(2 * c, 2 * c, tdim)
        self.up1, self.attn_up1 = ResBlock(4 * c, 2 * c, tdim), CrossAttention(2 * c, tx, heads)
        self.up0 = ResBlock(3 * c, c, tdim)
        self.out = nn.Sequential(nn.GroupNorm(groups(c), c), nn.SiLU(), nn.Conv2d(c, cin, 3, padding=1))
        self.channels = c

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        """``cond``: token ids ``(n, length)`` (0: padding; all padding: no prompt)."""
        if cond is None:
            cond = torch.zeros(len(x_t), 1, dtype=torch.long, device=x_t.device)
        states, mask = self.text(cond.view(len(x_t), -1).long())
        shape = x_t.shape
        if len(self.data_shape) == 1:
            x_t = x_t.view(len(x_t), -1, 1, 1)
        if self.pad:
            x_t = nn.functional.pad(x_t, (0, self.pad, 0, self.pad))
        temb = self.time(timestep_embedding(t, self.channels))
        if self.pool is not None:
            temb = temb + self.pool(pooled_states(states, mask))
        h0 = self.down0(self.inp(x_t), temb)
        h1 = self.attn1(self.down1(self.pool1(h0), temb), states, mask)
        h = self.mid(self.pool2(h1), temb)
        h = self.mid2(self.attn_mid(h, states, mask), temb)
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = self.attn_up1(self.up1(torch.cat([h, h1], 1), temb), states, mask)
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = self.up0(torch.cat([h, h0], 1), temb)
        out = self.out(h)
        if self.pad:
            out = out[..., :out.shape[-2] - self.pad, :out.shape[-1] - self.pad]
        return out.reshape(shape)
