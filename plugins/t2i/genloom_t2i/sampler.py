"""``t2i:prompt``: prompts in, images out, through any diffusion sampler.

It turns what the user asks for into the token ids the denoiser reads and hands them
to a registered diffusion sampler (``base``, default genloom-diffusion's ``ddim``) as its
``cond``, with the guidance scale (the model's ``guidance`` when none is given; 1, no
guidance, for samples without a prompt). The prompt comes from, in order:

* ``prompt``: one text, or several separated by ``|``, cycled over the ``n`` samples
  (``genloom sample RUN --prompt "a thin 3 leaning left" guidance=3``);
* ``cond``: token ids ``(n, length)``, or class labels ``(n,)`` written as ``"a 7"``
  (what ``--cond 7``, training's sample grids and the evaluation metrics pass);
* neither: no prompt (unconditional samples).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Denoiser, Sampler, Samples


class PromptSampler(Sampler):
    """Tokenizes prompts and runs the ``base`` diffusion sampler with them as ``cond``."""

    drives = Denoiser
    requires = ("tokenize", "label_prompts", "noise_schedule")

    def sample(self, model: Any, n: int, *, cond: Tensor | None = None,
               generator: torch.Generator | None = None, prompt: str | None = None,
               base: str | None = None, guidance: float | None = None,
               **options: Any) -> Samples:
        """``prompt``: text(s) separated by ``|``; ``base``: the diffusion sampler to run
        (default: the model's ``base_sampler``, ``diffusion:ddim`` or ``diffusion:flow_euler``);
        ``guidance``: classifier-free guidance scale (default: the model's); other
        options (``steps``, ``eta``, ``clip``) go to ``base``."""
        from genloom.sampling import draw

        tokens = self.tokens(model, n, cond, prompt)
        if base is None:
            base = getattr(model, "base_sampler", "diffusion:ddim")
        if base.rpartition(":")[2] == "prompt":
            raise ConfigError("base=prompt would call itself; name a diffusion sampler, e.g. base=ddim")
        if guidance is None:
            guidance = float(model.cfg.guidance) if bool(tokens.any()) and model.null_label is not None else 1.0
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)):
            raise ConfigError(f"guidance must be a number, got {guidance!r}")
        samples = draw(model, n, sampler=base, cond=tokens, generator=generator,
                       guidance=float(guidance), **options)
        samples.cond = None if cond is None or cond.dim() != 1 else cond.cpu()
        return samples

    def tokens(self, model: Any, n: int, cond: Tensor | None, prompt: str | None) -> Tensor:
        """The ``(n, length)`` token ids the denoiser is conditioned on."""
        if prompt is not None:
            if not isinstance(prompt, str):
                raise ConfigError(f"prompt must be text, got {prompt!r}")
            texts = prompt.split("|")
            return model.tokenize([texts[i % len(texts)] for i in range(n)])
        if cond is None:
            return torch.zeros(n, 1, dtype=torch.long)
        if cond.dim() == 1:
            return model.tokenize(model.label_prompts(cond))
        if cond.dim() == 2 and not cond.is_floating_point():
            return cond.long()
        raise ConfigError(f"cond must be class labels (n,) or token ids (n, length), got shape {tuple(cond.shape)}")
