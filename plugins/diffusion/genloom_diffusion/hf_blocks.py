"""The building blocks of diffusers' ``UNet2DModel`` and ``AutoencoderKL``, re-written
as plain ``nn.Module``\\ s.

Why here: an imported diffusers model must sample with genloom alone (diffusers is a
test-time reference, never a runtime import), and its weights must load by name with
no renaming, so each module keeps the attribute names diffusers gives its parameters
(``resnets.0.norm1.weight``, ``attentions.0.to_q.weight``, ``downsamplers.0.conv``).
Only the subset genloom imports is here (the blocks :mod:`genloom_diffusion.hf_unet`
and :mod:`genloom_diffusion.hf_vae` accept); each computes what its diffusers
namesake computes, as ``tests/test_hf_diffusers.py`` checks on random weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: diffusers' ``act_fn`` names genloom holds
ACTIVATIONS = {"silu": nn.SiLU, "swish": nn.SiLU, "mish": nn.Mish, "gelu": nn.GELU}


def timestep_embedding(t: Tensor, dim: int, flip_sin_to_cos: bool, shift: float) -> Tensor:
    """diffusers' ``get_timestep_embedding`` (max period 10,000, scale 1)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device)
                      / (half - shift))
    emb = t[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return F.pad(emb, (0, 1, 0, 0)) if dim % 2 else emb


class TimestepEmbedding(nn.Module):
    """``linear_1``, SiLU, ``linear_2``: the time embedding's MLP."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.linear_1, self.act, self.linear_2 = nn.Linear(in_dim, dim), nn.SiLU(), nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(self.act(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    """GroupNorm, act, conv, (+ time embedding: added, or scale and shift), GroupNorm,
    act, dropout, conv, plus a 1x1 shortcut when the width changes; divided by
    ``output_scale_factor``."""

    def __init__(self, cin: int, cout: int, temb: int | None, *, groups: int, eps: float, act: str,
                 time_norm: str = "default", dropout: float = 0.0, output_scale_factor: float = 1.0) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_norm = time_norm
        self.time_emb_proj = None if temb is None else nn.Linear(temb, 2 * cout if time_norm == "scale_shift" else cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nonlinearity = ACTIVATIONS[act]()
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.output_scale_factor = output_scale_factor

    def forward(self, x: Tensor, temb: Tensor | None = None) -> Tensor:
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        t = None if self.time_emb_proj is None or temb is None else self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        if self.time_norm == "scale_shift" and t is not None:
            scale, shift = t.chunk(2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h if t is None else h + t)
        h = self.conv2(self.dropout(self.nonlinearity(h)))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return (skip + h) / self.output_scale_factor


class Attention(nn.Module):
    """Self-attention over the pixels (diffusers' ``Attention`` as its UNet and VAE
    blocks build it): GroupNorm, ``to_q/k/v``, heads of ``head_dim``, ``to_out.0``,
    plus the input, divided by ``rescale``."""

    def __init__(self, channels: int, head_dim: int, *, groups: int | None, eps: float,
                 rescale: float = 1.0) -> None:
        super().__init__()
        self.heads = channels // head_dim
        inner = self.heads * head_dim
        self.group_norm = None if groups is None else nn.GroupNorm(groups, channels, eps=eps)
        self.to_q, self.to_k, self.to_v = (nn.Linear(channels, inner) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(inner, channels), nn.Dropout(0.0)])
        self.rescale = rescale

    def forward(self, x: Tensor) -> Tensor:
        b, c, hgt, wid = x.shape
        h = x.view(b, c, hgt * wid)
        if self.group_norm is not None:
            h = self.group_norm(h)
        h = h.transpose(1, 2)
        q, k, v = (proj(h).view(b, hgt * wid, self.heads, -1).transpose(1, 2)
                   for proj in (self.to_q, self.to_k, self.to_v))
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, hgt * wid, -1)
        out = self.to_out[1](self.to_out[0](out)).transpose(1, 2).reshape(b, c, hgt, wid)
        return (out + x) / self.rescale


class Downsample2D(nn.Module):
    """A stride-2 3x3 conv; with ``padding=0``, the input is padded on the right and
    bottom first (the VAE encoder's)."""

    def __init__(self, channels: int, padding: int) -> None:
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)) if self.padding == 0 else x)


class Upsample2D(nn.Module):
    """Nearest-neighbour upsampling by 2, then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """``DownBlock2D`` / ``AttnDownBlock2D`` (with ``temb``) and ``DownEncoderBlock2D``
    (without): resnets, each followed by attention when ``attention``, then an
    optional downsampler. Returns the output and the skip states it leaves."""

    def __init__(self, cin: int, cout: int, temb: int | None, *, layers: int, attention: bool, head_dim: int,
                 downsample: bool, padding: int, **resnet: object) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D(cin if i == 0 else cout, cout, temb, **resnet) for i in range(layers))  # type: ignore[arg-type]
        if attention:
            self.attentions = nn.ModuleList(
                Attention(cout, head_dim, groups=resnet["groups"], eps=resnet["eps"],  # type: ignore[arg-type]
                          rescale=resnet.get("output_scale_factor", 1.0)) for _ in range(layers))  # type: ignore[arg-type]
        self.downsamplers = nn.ModuleList([Downsample2D(cout, padding)]) if downsample else None

    def forward(self, x: Tensor, temb: Tensor | None = None) -> tuple[Tensor, list[Tensor]]:
        states = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if hasattr(self, "attentions"):
                x = self.attentions[i](x)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class UpBlock(nn.Module):
    """``UpBlock2D`` / ``AttnUpBlock2D`` (each resnet reads a skip state, ``skip`` true)
    and ``UpDecoderBlock2D`` (no skips): resnets, optional attention, then an optional
    upsampler."""

    def __init__(self, cin: int, prev: int, cout: int, temb: int | None, *, layers: int, attention: bool,
                 head_dim: int, upsample: bool, skip: bool, **resnet: object) -> None:
        super().__init__()
        self.skip = skip
        blocks = []
        for i in range(layers):
            res_in = prev if i == 0 else cout
            if skip:
                res_in += cin if i == layers - 1 else cout
            blocks.append(ResnetBlock2D(res_in, cout, temb, **resnet))  # type: ignore[arg-type]
        self.resnets = nn.ModuleList(blocks)
        if attention:
            self.attentions = nn.ModuleList(
                Attention(cout, head_dim, groups=resnet["groups"], eps=resnet["eps"],  # type: ignore[arg-type]
                          rescale=resnet.get("output_scale_factor", 1.0)) for _ in range(layers))  # type: ignore[arg-type]
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x: Tensor, skips: list[Tensor] | None = None, temb: Tensor | None = None) -> Tensor:
        for i, resnet in enumerate(self.resnets):
            if self.skip:
                x = torch.cat([x, skips.pop()], dim=1)  # type: ignore[union-attr]
            x = resnet(x, temb)
            if hasattr(self, "attentions"):
                x = self.attentions[i](x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class MidBlock(nn.Module):
    """``UNetMidBlock2D``: resnet, (attention, resnet)."""

    def __init__(self, channels: int, temb: int | None, *, attention: bool, head_dim: int,
                 attn_groups: int | None, **resnet: object) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(channels, channels, temb, **resnet) for _ in range(2))  # type: ignore[arg-type]
        if attention:
            self.attentions = nn.ModuleList([Attention(
                channels, head_dim, groups=attn_groups, eps=resnet["eps"],  # type: ignore[arg-type]
                rescale=resnet.get("output_scale_factor", 1.0))])  # type: ignore[arg-type]

    def forward(self, x: Tensor, temb: Tensor | None = None) -> Tensor:
        x = self.resnets[0](x, temb)
        if hasattr(self, "attentions"):
            x = self.attentions[0](x)
        return self.resnets[1](x, temb)
