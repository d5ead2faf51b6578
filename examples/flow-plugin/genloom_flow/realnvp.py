"""``realnvp``: an invertible generator built from affine couplings (RealNVP / Glow).

The stack, in the normalizing direction (data -> latent), repeats ``layers`` times

    [ActNorm] -> [invertible 1x1 conv] -> affine coupling (mask parity alternating)

with the masks the data calls for: ``halves`` for vectors (points), ``checkerboard``
for images at full resolution, ``channel`` halves after a 2x2 squeeze, or ``mixed``
(RealNVP's scale block: checkerboard couplings, a squeeze, then channel couplings).
The latent has the data's shape and a standard normal prior, so the core's ``prior``
sampler and ``genloom interpolate`` drive it like any other Generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from genloom import ConfigError, InvertibleGenerator
from genloom_flow.actnorm import ActNorm
from genloom_flow.bijection import Bijection
from genloom_flow.coupling import AffineCoupling, channel_mask, checkerboard_mask, halves_mask
from genloom_flow.invconv import InvertibleConv1x1
from genloom_flow.squeeze import Squeeze, squeeze, unsqueeze

IMAGE_MASKS = ("checkerboard", "channel", "mixed")
VECTOR_MASKS = ("halves",)
MASKS = ("auto", *IMAGE_MASKS, *VECTOR_MASKS)


@dataclass
class RealNVPConfig:
    """Options of the ``realnvp`` generator."""

    #: number of affine coupling layers (each with its ActNorm and 1x1 conv)
    layers: int = 8
    #: width of each coupling's conditioner (units of the MLP, channels of the conv net)
    hidden: int = 64
    #: hidden layers of each conditioner
    depth: int = 2
    #: auto | checkerboard | channel | mixed (images) | halves (vectors); auto picks
    #: checkerboard for images and halves for vectors
    mask: str = "auto"
    #: a data-initialised per-channel affine layer before every coupling
    actnorm: bool = True
    #: a learned invertible 1x1 convolution before every coupling that sees > 1 channel
    conv1x1: bool = False
    #: bound on each coupling's log-scale: s = bound * tanh(raw / bound)
    scale_bound: float = 2.0


def _check(cfg: Any, data_shape: tuple[int, ...]) -> str:
    """The mask kind to use, or a one-line ConfigError for bad option values."""
    for key in ("layers", "hidden", "depth"):
        if int(getattr(cfg, key)) < 1:
            raise ConfigError(f"realnvp option {key}={getattr(cfg, key)} must be at least 1")
    if not float(cfg.scale_bound) > 0:
        raise ConfigError(f"realnvp option scale_bound={cfg.scale_bound} must be positive")
    if cfg.mask not in MASKS:
        raise ConfigError(f"realnvp option mask={cfg.mask!r} is not one of {', '.join(MASKS)}")
    if len(data_shape) == 1:
        if data_shape[0] < 2:
            raise ConfigError(f"realnvp needs at least 2 features to couple, got shape {data_shape}")
        if cfg.mask not in ("auto", *VECTOR_MASKS):
            raise ConfigError(f"realnvp mask={cfg.mask!r} is for images; vectors use mask=halves")
        return "halves"
    if len(data_shape) != 3:
        raise ConfigError(f"realnvp supports vectors (d,) and images (c, h, w), got shape {data_shape}")
    if cfg.mask in VECTOR_MASKS:
        raise ConfigError(
            f"realnvp mask={cfg.mask!r} is for vectors; images use one of {', '.join(IMAGE_MASKS)}"
        )
    mask = "checkerboard" if cfg.mask == "auto" else cfg.mask
    _, h, w = data_shape
    if mask != "checkerboard" and (h % 2 or w % 2):
        raise ConfigError(
            f"realnvp mask={mask} squeezes 2x2 blocks and needs even height and width, got {h}x{w}"
        )
    return mask


class RealNVP(InvertibleGenerator):
    """Affine-coupling flow for vectors and images; optionally class-conditional.

    Built as ``RealNVP(cfg, data_shape=..., num_classes=0)``; ``num_classes > 0``
    feeds a one-hot label to every conditioner.
    """

    Config = RealNVPConfig

    def __init__(self, cfg: Any, data_shape: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        data_shape = tuple(int(d) for d in data_shape)
        mask = _check(cfg, data_shape)
        self.data_shape = self.latent_shape = data_shape
        self.num_classes = int(num_classes)
        steps: list[Bijection] = []
        shape = data_shape
        self.squeezes = 0
        for i in range(cfg.layers):
            if (mask == "channel" and i == 0) or (mask == "mixed" and i == cfg.layers // 2):
                steps.append(Squeeze())
                shape = (shape[0] * 4, shape[1] // 2, shape[2] // 2)
                self.squeezes += 1
            kind = mask if mask != "mixed" else ("checkerboard" if self.squeezes == 0 else "channel")
            if cfg.actnorm:
                steps.append(ActNorm(shape[0]))
            if cfg.conv1x1 and shape[0] > 1:
                steps.append(InvertibleConv1x1(shape[0]))
            steps.append(AffineCoupling(self._mask(kind, shape, i % 2), cfg.hidden, cfg.depth,
                                        float(cfg.scale_bound), self.num_classes))
        #: layers in the normalizing order (data first)
        self.steps = nn.ModuleList(steps)

    @staticmethod
    def _mask(kind: str, shape: tuple[int, ...], parity: int) -> Tensor:
        if kind == "halves":
            return halves_mask(shape[0], parity)
        if kind == "checkerboard":
            return checkerboard_mask(shape, parity)  # type: ignore[arg-type]
        return channel_mask(shape, parity)  # type: ignore[arg-type]

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latents of ``x`` (the data's shape) and ``log|det dz/dx|`` per example."""
        logdet = x.new_zeros(len(x))
        h = x
        for step in self.steps:
            h, ld = step.inverse(h, cond)
            logdet = logdet + ld
        for _ in range(self.squeezes):  # a fixed permutation back to the data's layout
            h = unsqueeze(h)
        return h, logdet

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from latents ``z`` of shape ``(n, *data_shape)``."""
        h = z
        for _ in range(self.squeezes):
            h = squeeze(h)
        for step in reversed(self.steps):
            h = step(h, cond)
        return h


__all__ = ["RealNVP", "RealNVPConfig"]
