"""``prior``: draw latents from the standard normal prior and decode them in one shot."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom.interfaces import Generator, Sampler, Samples


def sample_kind_of(model: Any) -> str:
    """The kind of the samples ``model`` makes: its data's kind (``image`` without info)."""
    info = getattr(model, "info", None)
    return info.kind if info is not None else "image"


class PriorSampler(Sampler):
    """z ~ N(0, I) through any one-shot :class:`Generator`; ``temperature`` scales the
    prior's standard deviation (below 1: typicality over diversity)."""

    drives = Generator
    requires = ("has_latent_space",)

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> Samples:
        """Draw ``n`` latents from N(0, temperature^2 I) with ``generator`` and decode them
        with the model's one-shot Generator (labels ``cond`` for a conditional model)."""
        gen = self.check(model)
        z = torch.randn((n, *gen.latent_shape), generator=generator) * temperature
        return self.decode(model, z, cond)

    def decode(self, model: Any, z: Tensor, cond: Tensor | None = None) -> Samples:
        """Samples from latents ``z`` through the model's Generator (for subclasses that
        draw ``z`` another way, e.g. truncated)."""
        gen = self.check(model)
        if cond is None and getattr(model, "conditional", False):
            raise ConfigError(
                f"model {type(model).__name__} is conditional: pass class labels, e.g. --cond 7 "
                "or --cond 0,1,2"
            )
        device = next(gen.parameters()).device
        data = gen(z.to(device), None if cond is None else cond.to(device))
        return Samples(data=data.cpu(), kind=sample_kind_of(model), cond=None if cond is None else cond.cpu())
