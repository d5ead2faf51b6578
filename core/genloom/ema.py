"""``EMA``: an exponential moving average of a module's weights, for sampling (GANs and
diffusion models sample from averaged weights). One helper, so every plugin averages and
checkpoints the same way.

A fixed decay ``d`` keeps ``d^k`` of the random initial weights after ``k`` updates
(22% after 300 updates at 0.995: a few minutes of CPU training samples noise from its
average). ``warmup=True`` ramps the decay as ``timm``'s and ``diffusers``' EMAs do.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def warm_decay(decay: float, k: int) -> float:
    """The decay of update ``k`` (0: the first, which copies) with warm-up."""
    return min(decay, (1 + k) / (10 + k))


class EMA(AveragedModel):
    """A frozen copy of ``source`` (``.module``) that :meth:`update` moves towards it:
    ``w_ema <- decay * w_ema + (1 - decay) * w`` (buffers too; the first update copies).
    With ``warmup``, update ``k`` uses :func:`warm_decay` instead of ``decay``.
    torch's ``AveragedModel``, so state dict keys stay ``module.*`` and ``n_averaged``
    (a resume continues the ramp); it takes no gradients, so optimizers and DDP leave it
    alone.
    """

    module: nn.Module

    def __init__(self, source: nn.Module, decay: float, warmup: bool = False) -> None:
        super().__init__(source, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.decay, self.warmup = float(decay), bool(warmup)
        self.requires_grad_(False)

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average one step towards ``source``'s current weights and buffers."""
        k = int(self.n_averaged)
        if not self.warmup or k == 0:
            self.update_parameters(source)
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
