"""The VAE: an Encoder, a Generator (decoder) and the beta-weighted ELBO.

The decoder's output is the mean of a Gaussian with fixed standard deviation
``obs_std``, so the loss is a true negative ELBO in nats per example (a bound on the
negative log-likelihood), and ``beta`` trades reconstruction against the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, DataInfo, GenerativeModel, build_component

from genloom_vae.prior import MixturePrior

#: what ``model.prior`` may name: the N(0, I) of the ELBO, or a mixture fitted to the means
PRIORS = ("normal", "gmm")


class VAE(GenerativeModel):
    """Variational autoencoder with any registered encoder and generator networks."""

    likelihood = "bound"
    has_latent_space = True
    default_sampler = "prior"
    #: config keys that are themselves components: key -> (kind, default name)
    subcomponents = {"encoder": ("encoder", "vae:mlp"), "decoder": ("generator", "vae:mlp")}

    @dataclass
    class Config:
        latent_dim: int = field(default=16, metadata={"min": 1})
        beta: float = 1.0
        obs_std: float = 0.25
        conditional: bool = False
        #: what samples are drawn from: ``normal`` (N(0, I), the ``prior`` sampler) or
        #: ``gmm`` (a mixture fitted to the encoder's means, the ``latent_prior`` sampler)
        prior: str = "normal"
        #: with ``prior: gmm``: mixture components, the training means kept for the fit
        #: (the most recent; one epoch's worth or more), EM iterations
        prior_components: int = field(default=10, metadata={"min": 1})
        prior_bank: int = field(default=4096, metadata={"min": 1})
        prior_iters: int = field(default=30, metadata={"min": 1})

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.conditional and info.num_classes == 0:
            raise ValueError(
                "model.conditional=true needs a dataset with class labels (e.g. digits)"
            )
        if cfg.prior not in PRIORS:
            raise ConfigError(f"model.prior: unknown prior '{cfg.prior}'; choose one of {', '.join(PRIORS)}")
        if cfg.prior == "gmm" and cfg.conditional:
            raise ConfigError("model.prior=gmm fits one mixture to all classes; it does not work with "
                              "model.conditional=true (use prior=normal)")
        classes = info.num_classes if cfg.conditional else 0
        context = dict(data_shape=info.shape, latent_dim=cfg.latent_dim, num_classes=classes)
        self.encoder = build_component("encoder", cfg.encoder, **context)
        self.decoder = build_component("generator", cfg.decoder, **context)
        self._log_norm = 0.5 * math.prod(info.shape) * math.log(2 * math.pi * cfg.obs_std**2)
        if cfg.prior == "gmm":
            #: the fitted prior (genloom.capabilities.HasPrior), sampled by latent_prior
            self.prior = MixturePrior(cfg.latent_dim, cfg.prior_components, cfg.prior_bank, cfg.prior_iters)
            self.default_sampler = "latent_prior"

    def decode_latents(self, latents: Tensor, cond: Tensor | None = None) -> Tensor:
        """Data from latents ``(n, latent_dim)`` drawn elsewhere (the fitted prior)."""
        return self.decoder(latents, cond)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        x = batch["x"]
        cond = batch.get("y") if self.conditional else None
        posterior = self.encoder.encode(x, cond)
        if self.training and self.cfg.prior == "gmm":
            self.prior.observe(posterior.mean)
        x_hat = self.decoder(posterior.rsample(), cond)
        sq = (x_hat - x).pow(2).flatten(1).sum(dim=1)
        recon = (sq / (2 * self.cfg.obs_std**2) + self._log_norm).mean()
        kl = posterior.kl().mean()
        return {"loss": recon + self.cfg.beta * kl, "recon": recon, "kl": kl}

    def importance_log_weights(self, batch: dict[str, Tensor], k: int) -> Tensor:
        """``(k, n)`` log importance weights ``log p(x, z) - log q(z | x)`` for ``k``
        posterior draws per example: the core's ``nll`` metric turns them into the
        importance-weighted bound (IWAE), which tightens towards ``-log p(x)`` as ``k``
        grows; at ``k = 1`` its expectation is the ELBO (with ``beta = 1``)."""
        x = batch["x"]
        cond = batch.get("y") if self.conditional else None
        posterior = self.encoder.encode(x, cond)
        weights = []
        for _ in range(k):
            z = posterior.rsample()
            sq = (self.decoder(z, cond) - x).pow(2).flatten(1).sum(dim=1)
            log_px_z = -(sq / (2 * self.cfg.obs_std**2) + self._log_norm)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).flatten(1).sum(dim=1)
            weights.append(log_px_z + log_pz - posterior.log_prob(z))
        return torch.stack(weights)
