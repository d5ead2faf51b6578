"""``latent_prior``: draw latents from a learned prior model with *its* sampler, then
decode them (a VQ-VAE's code prior, a latent flow); the model offers
:class:`genloom.capabilities.HasPrior` (optionally ``HasPriorOptions``).

Options: ``prior_sampler`` (default: the prior's own) and ``prior``, a mapping of options
passed to it (``genloom sample RUN prior.top_k=20``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.capabilities import HasPrior, HasPriorOptions
from genloom.errors import ConfigError
from genloom.interfaces import Generator, Sampler, Samples
from genloom.samplers.prior import sample_kind_of


class LatentPriorSampler(Sampler):
    """Latents from ``model.prior`` (with its own sampler), decoded by ``model.decode_latents``."""

    drives = Generator
    requires = (HasPrior,)

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        prior_sampler: str | None = None,
        prior: dict[str, Any] | None = None,
    ) -> Samples:
        """Draw ``n`` latent codes with the prior's own sampler (``prior_sampler``, options
        under ``prior``) and decode them with the model's ``decode_latents``."""
        from genloom.sampling import draw

        self.check(model)
        if prior is not None and not isinstance(prior, dict):
            raise ConfigError(f"sampler option prior must be a mapping of options, got {prior!r}")
        defaults = model.prior_options if isinstance(model, HasPriorOptions) else {}
        options = {**dict(defaults or {}), **(prior or {})}
        latents = draw(model.prior, n, sampler=prior_sampler, cond=cond, generator=generator, **options)
        device = next(model.parameters()).device
        data = model.decode_latents(latents.data.to(device), None if cond is None else cond.to(device))
        return Samples(
            data=data.detach().cpu(), kind=sample_kind_of(model), cond=None if cond is None else cond.cpu(),
            extras={"latents": latents.data},
        )
