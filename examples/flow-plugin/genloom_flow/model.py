"""The ``flow`` model: an invertible generator trained by exact maximum likelihood.

The loss is the negative log-likelihood ``-log p(x) = -log N(z; 0, I) - log|det dz/dx|``
with ``z = f(x)``, in nats per example. Image data is discrete (``levels`` grey levels
in [-1, 1]), so it is dequantised first and ``bits_per_dim`` reports the resulting
bound on the discrete likelihood (see :mod:`genloom_flow.likelihood`); ``genloom
evaluate`` prints it as ``test/bits_per_dim``. Points are continuous and used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from genloom import (
    ConfigError, DataInfo, GenerativeModel, InvertibleGenerator, build_component, get_kind,
)
from genloom_flow.likelihood import bin_width, bits_per_dim, dequantize


@dataclass
class FlowConfig:
    """Options of the ``flow`` model (its generator is configured under ``flow``)."""

    #: grey levels per channel of image data spread evenly over [-1, 1] (17 for the
    #: built-in digits, 256 for 8-bit images); sets the dequantisation bin, 2 / (levels - 1).
    #: 0 treats images as continuous (no dequantisation, no bits_per_dim). Ignored for points.
    levels: int = 256
    #: condition every coupling on the class label (needs labelled data, e.g. digits)
    conditional: bool = False


class Flow(GenerativeModel):
    """Any registered :class:`genloom.InvertibleGenerator`, trained on its exact likelihood."""

    likelihood = "exact"
    has_latent_space = True
    default_sampler = "prior"
    subcomponents = {"flow": ("generator", "flow:realnvp")}
    Config = FlowConfig

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.levels != 0 and cfg.levels < 2:
            raise ConfigError(f"model.levels={cfg.levels} must be 0 (continuous) or at least 2")
        if cfg.conditional and not info.num_classes:
            raise ConfigError("model.conditional=true needs a dataset with class labels (e.g. digits)")
        classes = info.num_classes if cfg.conditional else 0
        self.flow = build_component("generator", cfg.flow, data_shape=tuple(info.shape), num_classes=classes)
        if not isinstance(self.flow, InvertibleGenerator):
            raise ConfigError(
                f"model.flow.name={cfg.flow.name} is a {type(self.flow).__name__}, not an invertible "
                "generator; a flow needs one (e.g. flow:realnvp)"
            )
        kind = get_kind(info.kind)
        if not kind.continuous:
            raise ConfigError(
                f"model.name=flow needs real-valued data; '{info.kind}' data is not continuous "
                "(its sample kind says so): use a token model for it"
            )
        #: the dequantisation bin on the [-1, 1] scale, or None for unbounded data (points):
        #: data of a kind with a value range (images, piano rolls) lies on ``levels`` levels
        self.bin: float | None = (
            bin_width(cfg.levels) if kind.value_range is not None and cfg.levels else None
        )
        self.dims = 1
        for d in info.shape:
            self.dims *= int(d)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        """``loss``: NLL in nats per example (of the dequantised data for images);
        ``bits_per_dim``: the bound on the discrete NLL, for image data."""
        x = batch["x"]
        cond = batch.get("y") if self.conditional else None
        if self.bin is not None:
            x = dequantize(x, self.bin)
        nll = -self.flow.log_prob(x, cond)
        parts = {"loss": nll.mean()}
        if self.bin is not None:
            parts["bits_per_dim"] = bits_per_dim(nll.detach(), self.dims, self.bin).mean()
        return parts
