"""A frozen first stage: another run's autoencoder, composed into a second-stage model.

Latent diffusion diffuses in an autoencoder's latent space; a VQ-VAE's prior models
its code grid; a flow can model a VAE's latents. Each second stage needs the same
thing: load another run's model with an :class:`~genloom.Encoder` and a one-shot
:class:`~genloom.Generator` (whichever plugin made it), freeze it, and encode and
decode through it. :class:`FirstStage` is that component, in the genloom-diffusion
library (latent diffusion's frozen autoencoder) so that any plugin that declares the
library composes it without importing the plugin that trained the autoencoder.

Sampling later must not need the first run's checkpoint file. So the first time the
second stage is built, the autoencoder's resolved model config and data info are
copied into the owner's config (:class:`FirstStageConfig` ``model`` and ``info``),
which every checkpoint stores, and its weights become part of the owner's state
dict. Rebuilding from the owner's checkpoint builds the autoencoder through the
registry from that config and loads its weights with the owner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genloom import (
    ConfigError, DataInfo, DiscreteEncoder, DiscreteLatent, Encoder, FlowLatent, Generator, build_model,
    load_checkpoint, load_config,
)


@dataclass
class FirstStageConfig:
    """A config section naming a first stage (e.g. the diffusion model's ``latent``)."""

    #: a checkpoint, run directory or export of a model with an Encoder and a Generator
    checkpoint: str | None = None
    #: latents are multiplied by this; 0 measures 1/std of the training latents at fit start
    scale: float = 0.0
    #: filled in when the owner is first built: the autoencoder's model config and data
    #: info, so a checkpoint of the owner rebuilds it without the original file
    model: dict[str, Any] | None = None
    info: dict[str, Any] | None = None


def _plain(node: Any) -> Any:
    """A config node (or plain value) as plain dicts and lists, for storing in config."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


class FirstStage(nn.Module):
    """A frozen Encoder/Generator pair, with the scale that makes latents unit-variance.

    :meth:`encode` gives continuous latents (a Gaussian's mean, a flow's ``z``, a VQ
    encoder's code vectors); :meth:`codes` gives a discrete encoder's integer codes.
    :meth:`decode` takes either. ``scale`` multiplies encoded latents and divides them
    again before decoding (it does not apply to codes). It is a buffer, so it is saved with the model. With ``latent.scale: 0``
    in config it starts at 1 and :meth:`fit_scale` measures it from training data
    when training starts (``measured`` records that it did, so a resumed or
    fine-tuned run keeps the value it was trained with).
    """

    def __init__(self, encoder: Encoder, decoder: Generator, *, conditional: bool,
                 scale: float) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.requires_grad_(False)
        self.conditional = conditional
        self.latent_shape = tuple(encoder.latent_shape)
        self.register_buffer("scale", torch.tensor(float(scale) if scale > 0 else 1.0))
        self.register_buffer("measured", torch.tensor(scale > 0))

    @classmethod
    def from_config(cls, cfg: Any, info: DataInfo, key: str = "model.first_stage") -> FirstStage:
        """Build from a :class:`FirstStageConfig` section, filling in ``model``/``info`` on first use.

        ``info`` is the owner's data: the autoencoder must have been trained on data of
        the same shape. ``key`` is where the section sits in the owner's config (the
        diffusion model's is ``model.latent``), for one-line errors that name it."""
        if cfg.model is None:
            if not cfg.checkpoint:
                raise ConfigError(f"{key}.checkpoint is not set: name an autoencoder's run")
            autoencoder = load_checkpoint(cfg.checkpoint)
            cfg.model = _plain(autoencoder.run_cfg.model)
            cfg.info = autoencoder.info.to_dict()
        else:  # rebuilding a trained latent diffusion model: weights come with it
            run_cfg = load_config(base={"model": _plain(cfg.model)}, check_trainer=False)
            autoencoder = build_model(run_cfg, DataInfo.from_dict(_plain(cfg.info)))
        ae_info = DataInfo.from_dict(_plain(cfg.info))
        if tuple(ae_info.shape) != tuple(info.shape):
            raise ConfigError(
                f"{key}.checkpoint was trained on data of shape {tuple(ae_info.shape)}, but this "
                f"run's data has shape {tuple(info.shape)}"
            )
        encoder, decoder = autoencoder.component(Encoder), autoencoder.component(Generator)
        if encoder is None or decoder is None:
            raise ConfigError(
                f"{key}.checkpoint holds a {type(autoencoder).__name__}, which lacks an Encoder "
                "and Generator pair; use an autoencoder's run (a VAE, say)"
            )
        return cls(encoder, decoder, conditional=bool(autoencoder.conditional), scale=cfg.scale)

    def train(self, mode: bool = True) -> FirstStage:
        """Stay in eval mode whatever ``mode`` says: a frozen first stage keeps dropout
        off and normalisation statistics fixed while the model around it trains."""
        return super().train(False)  # frozen: dropout and norms stay in inference mode

    def _cond(self, cond: Tensor | None) -> Tensor | None:
        return cond if self.conditional else None

    @property
    def discrete(self) -> bool:
        """Whether the encoder produces integer codes (and can embed them)."""
        return isinstance(self.encoder, DiscreteEncoder)

    @torch.no_grad()
    def latent(self, x: Tensor, cond: Tensor | None = None) -> Any:
        """The encoder's own output for ``x`` (a :class:`~genloom.interfaces.Latent`), unscaled."""
        return self.encoder.encode(x, self._cond(cond))

    @torch.no_grad()
    def encode(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Scaled continuous latents of ``x``: a distribution's mean, a flow's ``z``, a
        quantizer's code vectors, or the encoder's tensor."""
        z = self.latent(x, cond)
        if isinstance(z, DiscreteLatent):
            z = z.quantized if z.quantized is not None else self.encoder.embed(z.codes)
        elif isinstance(z, FlowLatent):
            z = z.z
        elif not isinstance(z, Tensor):
            z = z.mean
        return z * self.scale

    @torch.no_grad()
    def codes(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Integer codes of ``x``; needs a discrete encoder (a VQ-VAE's)."""
        z = self.latent(x, cond)
        if not isinstance(z, DiscreteLatent):
            raise ValueError(
                f"the first stage's encoder {type(self.encoder).__name__} makes continuous "
                "latents, not codes; use a VQ model's run"
            )
        return z.codes

    def decode(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from scaled latents (the inverse of :meth:`encode`'s scaling), or from
        integer codes of a discrete encoder."""
        if not z.is_floating_point():
            return self.decoder(self.encoder.embed(z), self._cond(cond))
        return self.decoder(z / self.scale, self._cond(cond))

    @torch.no_grad()
    def fit_scale(self, batches: list[dict[str, Tensor]]) -> float:
        """Set ``scale`` to 1 / the standard deviation of the unscaled latents of ``batches``."""
        device = self.scale.device
        self.scale.fill_(1.0)
        z = torch.cat([
            self.encode(b["x"].to(device), None if b.get("y") is None else b["y"].to(device))
            for b in batches
        ])
        std = float(z.float().std())
        self.scale.fill_(1.0 / std if std > 0 else 1.0)
        self.measured.fill_(True)
        return float(self.scale)
