"""``EMA``: an exponential moving average of a module's weights, for sampling (GANs and
diffusion models sample from averaged weights). One helper, so every plugin averages and
checkpoints the same way.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class EMA(AveragedModel):
    """A frozen copy of ``source`` (``.module``) that :meth:`update` moves towards it:
    ``w_ema <- decay * w_ema + (1 - decay) * w`` (buffers too; the first update copies).
    torch's ``AveragedModel``, so state dict keys stay ``module.*`` and ``n_averaged``;
    it takes no gradients, so optimizers and DDP leave it alone.
    """

    module: nn.Module

    def __init__(self, source: nn.Module, decay: float) -> None:
        super().__init__(source, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.decay = float(decay)
        self.requires_grad_(False)

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        """Move the average one step towards ``source``'s current weights and buffers."""
        self.update_parameters(source)
