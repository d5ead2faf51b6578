"""``WarmEMA``: genloom's EMA whose decay ramps up over the first updates.

A fixed decay ``d`` keeps ``d^k`` of the random initial weights after ``k`` updates:
at ``d = 0.995`` that is 22% after 300 steps, which is as many as a few minutes of CPU
training make, so a short run sampled from its EMA copy draws noise while its raw
weights already draw blobs of digits. As in the ``timm``/``diffusers`` EMA
(``use_ema_warmup``), update ``k`` (counted from 0) uses
``min(decay, (1 + k) / (10 + k))``: early updates follow the weights closely and the
average settles to ``decay`` after a few hundred steps. The state dict is
:class:`genloom.EMA`'s (``module.*`` and ``n_averaged``), so checkpoints look the same.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from genloom import EMA


def warm_decay(decay: float, k: int) -> float:
    """The decay of update ``k`` (0: the first, which copies the weights)."""
    return min(decay, (1 + k) / (10 + k))


class WarmEMA(EMA):
    """An :class:`~genloom.EMA` with the decay ramp ``min(decay, (1 + k) / (10 + k))``."""

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average towards ``source`` by this update's (ramped) decay."""
        k = int(self.n_averaged)
        if k == 0:
            super().update(source)  # the first update copies the weights
            return
        d = warm_decay(self.decay, k)
        mine = itertools.chain(self.module.parameters(), self.module.buffers())
        theirs = itertools.chain(source.parameters(), source.buffers())
        for avg, new in zip(mine, theirs):
            if avg.is_floating_point():
                avg.lerp_(new.detach().to(avg.device), 1.0 - d)
            else:
                avg.copy_(new)
        self.n_averaged += 1
