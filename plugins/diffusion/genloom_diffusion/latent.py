"""Latent diffusion: diffuse in the latent space of another model's autoencoder.

The autoencoder is any genloom model with an :class:`~genloom.Encoder` and a
one-shot :class:`~genloom.Generator` (the VAE plugin's, say), named by a checkpoint
path in config and loaded with :func:`genloom.load_checkpoint`; this plugin never
imports the plugin that provides it. It is frozen: only the denoiser trains.

Sampling later must not need that checkpoint file. So the first time the model is
built, the autoencoder's resolved model config and data info are copied into this
model's own config (``latent.model``, ``latent.info``), which every checkpoint
stores, and its weights become part of this model's state dict. Rebuilding from a
diffusion checkpoint then builds the autoencoder through the registry from
``latent.model`` and loads its weights from the diffusion checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genloom import DataInfo, Encoder, Generator, build_model, load_checkpoint, load_config


def _plain(node: Any) -> Any:
    """A config node (or plain value) as plain dicts and lists, for storing in config."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


class FirstStage(nn.Module):
    """A frozen Encoder/Generator pair, with the scale that makes latents unit-variance.

    ``scale`` multiplies encoded latents before diffusion and divides samples before
    decoding. It is a buffer, so it is saved with the model. With ``latent.scale: 0``
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
    def from_config(cls, cfg: Any, info: DataInfo) -> FirstStage:
        """Build from the ``latent`` config section, filling in ``model``/``info`` on first use."""
        if cfg.model is None:
            if not cfg.checkpoint:
                raise ValueError("latent diffusion needs latent.checkpoint (an autoencoder's run)")
            autoencoder = load_checkpoint(cfg.checkpoint)
            cfg.model = _plain(autoencoder.run_cfg.model)
            cfg.info = autoencoder.info.to_dict()
        else:  # rebuilding a trained latent diffusion model: weights come with it
            run_cfg = load_config(base={"model": _plain(cfg.model)}, check_trainer=False)
            autoencoder = build_model(run_cfg, DataInfo.from_dict(_plain(cfg.info)))
        ae_info = DataInfo.from_dict(_plain(cfg.info))
        if tuple(ae_info.shape) != tuple(info.shape):
            raise ValueError(
                f"latent.checkpoint was trained on data of shape {tuple(ae_info.shape)}, but this "
                f"run's data has shape {tuple(info.shape)}"
            )
        encoder, decoder = autoencoder.component(Encoder), autoencoder.component(Generator)
        if encoder is None or decoder is None:
            raise ValueError(
                f"latent.checkpoint holds a {type(autoencoder).__name__}, which lacks an Encoder "
                "and Generator pair; use an autoencoder's run (a VAE, say)"
            )
        return cls(encoder, decoder, conditional=bool(autoencoder.conditional), scale=cfg.scale)

    def train(self, mode: bool = True) -> FirstStage:
        return super().train(False)  # frozen: dropout and norms stay in inference mode

    def _cond(self, cond: Tensor | None) -> Tensor | None:
        return cond if self.conditional else None

    @torch.no_grad()
    def encode(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Scaled latents of ``x``: a distribution's mean, or the encoder's tensor."""
        z = self.encoder.encode(x, self._cond(cond))
        z = z if isinstance(z, Tensor) else z.mean
        return z * self.scale

    def decode(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from scaled latents (the inverse of :meth:`encode`'s scaling)."""
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
