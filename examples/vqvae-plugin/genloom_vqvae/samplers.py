"""``uniform_codes``: decode a grid of codes drawn uniformly at random.

This is the prior a VQ-VAE's first stage is trained under (van den Oord et al., 2017:
"whilst training the VQ-VAE, the prior is kept constant and uniform"), so it is what
stage 1 alone can generate. It is not the model's default: the samples show what the
codebook's vectors decode to, useful to inspect a codebook or as the baseline a
learned prior (``vq-prior``) must beat, not as data.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import DiscreteEncoder, Generator, IncompatibleSamplerError, Sampler, Samples


class UniformCodesSampler(Sampler):
    """Codes uniform over the codebook, embedded and decoded; any model with a
    :class:`genloom.DiscreteEncoder` and a :class:`genloom.Generator` (a ``vqvae``
    run, or a ``vq-prior`` run, whose first stage it then samples)."""

    drives = DiscreteEncoder

    def sample(self, model: Any, n: int, *, cond: Tensor | None = None,
               generator: torch.Generator | None = None) -> Samples:
        encoder = self.check(model)
        decoder = model.component(Generator)
        if decoder is None:
            raise IncompatibleSamplerError(
                f"sampler {type(self).__name__} decodes codes with a Generator, and "
                f"{type(model).__name__} has none"
            )
        codes = torch.randint(0, encoder.num_codes, (n, *encoder.code_shape), generator=generator)
        device = next(decoder.parameters()).device
        data = decoder(encoder.embed(codes.to(device)), None if cond is None else cond.to(device))
        info = getattr(model, "info", None)
        return Samples(data=data.cpu(), kind=info.kind if info is not None else "image",
                       cond=None if cond is None else cond.cpu(), extras={"codes": codes})
