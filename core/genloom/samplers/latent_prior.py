"""``latent_prior``: sample latents from a learned prior, then decode them.

Two-stage models (a VQ-VAE with an autoregressive prior over its codes, a latent flow,
a VAE with a learned prior) are sampled in two steps: the prior, itself a genloom
model, draws latents with *its* sampler (``multinomial`` with ``top_k``, say), and
the model decodes them to data. The contract a model offers this sampler
is :class:`genloom.capabilities.HasPrior`:

* ``prior``: a model (``GenerativeModel``) whose samples are this model's latents;
* ``decode_latents(latents, cond) -> Tensor``: data from what the prior sampled;
* optionally ``prior_options`` (:class:`~genloom.capabilities.HasPriorOptions`): a dict
  of defaults for the prior's sampler (e.g. ``{"max_new_tokens": 16}`` for a 4x4 code
  grid), below what the user sets.

Options: ``prior_sampler`` (default: the prior's own default sampler) and ``prior``,
a mapping of options passed to it (``genloom sample RUN prior.top_k=20``).
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
