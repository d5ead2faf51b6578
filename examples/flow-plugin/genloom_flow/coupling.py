"""Affine coupling (RealNVP): half of the values, scaled and shifted by a function of the other half.

A binary mask ``b`` marks the values that pass through unchanged; a conditioner network
reads them (and the class label, if any) and predicts a log-scale ``s`` and shift ``t``
for the rest. In the normalizing direction

    z = b * x + (1 - b) * (x * exp(s) + t),    log|det dz/dx| = sum((1 - b) * s),

and the generating direction undoes it exactly, because ``s`` and ``t`` depend only on
values the layer does not change. ``s`` is bounded by ``scale_bound * tanh(. / scale_bound)``
so one layer can never stretch by more than ``exp(scale_bound)``, and the conditioner's
last layer starts at zero, so every coupling starts as the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genloom_flow.bijection import Bijection


def checkerboard_mask(shape: tuple[int, int, int], parity: int) -> Tensor:
    """``(C, H, W)`` mask that is 1 where ``(row + col) % 2 == parity``, in every channel."""
    c, h, w = shape
    rows = torch.arange(h).view(h, 1)
    cols = torch.arange(w).view(1, w)
    board = ((rows + cols) % 2 == parity).float()
    return board.expand(c, h, w).clone()


def channel_mask(shape: tuple[int, int, int], parity: int) -> Tensor:
    """``(C, H, W)`` mask that is 1 on the first half of the channels (the second for parity 1)."""
    c, h, w = shape
    first = (torch.arange(c) < c // 2).float()
    keep = first if parity == 0 else 1.0 - first
    return keep.view(c, 1, 1).expand(c, h, w).clone()


def halves_mask(dims: int, parity: int) -> Tensor:
    """``(D,)`` mask that is 1 on the first ``D // 2`` features (the others for parity 1)."""
    first = (torch.arange(dims) < dims // 2).float()
    return first if parity == 0 else 1.0 - first


def one_hot(cond: Tensor | None, num_classes: int, n: int, like: Tensor) -> Tensor:
    """``(n, num_classes)`` one-hot labels (``(n, 0)`` for an unconditional flow)."""
    if num_classes == 0:
        return like.new_zeros(n, 0)
    if cond is None:
        raise ValueError("this flow is class-conditional: pass class labels as cond")
    return F.one_hot(cond.long().reshape(-1), num_classes).to(like.dtype).expand(n, num_classes)


class MLPConditioner(nn.Module):
    """Masked features (plus one-hot label) -> ``depth`` hidden layers -> ``(s, t)`` for vectors."""

    def __init__(self, dims: int, hidden: int, depth: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        sizes = [dims + num_classes] + [hidden] * depth
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, 2 * dims)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        h = torch.cat([x, one_hot(cond, self.num_classes, len(x), x)], dim=1)
        s, t = self.head(self.body(h)).chunk(2, dim=1)
        return s, t


class ConvConditioner(nn.Module):
    """Masked image (plus the mask and one-hot label planes) -> 3x3 conv, ``depth - 1``
    1x1 convs, a 3x3 conv -> ``(s, t)`` per pixel (Glow's conditioner shape)."""

    def __init__(self, channels: int, hidden: int, depth: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.Conv2d(channels + 1 + num_classes, hidden, 3, padding=1), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(hidden, hidden, 1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(hidden, 2 * channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor, mask: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        n, _, h, w = x.shape
        labels = one_hot(cond, self.num_classes, n, x).view(n, -1, 1, 1).expand(n, self.num_classes, h, w)
        planes = torch.cat([x, mask[:1].expand(n, 1, h, w), labels], dim=1)
        s, t = self.head(self.body(planes)).chunk(2, dim=1)
        return s, t


class AffineCoupling(Bijection):
    """One masked affine coupling; ``mask`` has the per-example shape of its input."""

    def __init__(self, mask: Tensor, hidden: int, depth: int, scale_bound: float,
                 num_classes: int = 0) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.scale_bound = scale_bound
        if mask.dim() == 1:
            self.net: nn.Module = MLPConditioner(mask.shape[0], hidden, depth, num_classes)
        else:
            self.net = ConvConditioner(mask.shape[0], hidden, depth, num_classes)

    def _scale_shift(self, kept: Tensor, cond: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.mask.dim() == 1:
            s, t = self.net(kept, cond)
        else:
            s, t = self.net(kept, self.mask, cond)
        free = 1.0 - self.mask
        s = self.scale_bound * torch.tanh(s / self.scale_bound) * free
        return s, t * free

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        kept = x * self.mask
        s, t = self._scale_shift(kept, cond)
        z = kept + (1.0 - self.mask) * (x * s.exp() + t)
        return z, s.flatten(1).sum(dim=1)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        kept = z * self.mask
        s, t = self._scale_shift(kept, cond)
        return kept + (1.0 - self.mask) * ((z - t) * (-s).exp())
