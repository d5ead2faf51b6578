"""The contract of one flow layer: an invertible map with a cheap log-determinant.

A flow is a stack of layers. Each layer maps in both directions: ``forward(z, cond)``
is the generating direction (towards the data) and ``inverse(x, cond)`` the
normalizing one (towards the latent), which also returns ``log|det d out / d in|``
per example. These are the same conventions as :class:`genloom.InvertibleGenerator`,
so a stack of layers composes into one by summing log-determinants.
"""

from __future__ import annotations

import abc

from torch import Tensor, nn


class Bijection(nn.Module, abc.ABC):
    """One invertible layer of a flow."""

    @abc.abstractmethod
    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """The generating direction: latent side -> data side."""

    @abc.abstractmethod
    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The normalizing direction: data side -> latent side, with ``log|det|`` per example."""


def spatial_size(x: Tensor) -> int:
    """How many positions share one per-channel parameter: ``H * W`` for images, 1 for vectors."""
    size = 1
    for d in x.shape[2:]:
        size *= d
    return size


def per_channel(v: Tensor, x: Tensor) -> Tensor:
    """A ``(C,)`` vector shaped to broadcast over ``x`` (``(n, C)`` or ``(n, C, H, W)``)."""
    return v.view(1, -1, *([1] * (x.dim() - 2)))
