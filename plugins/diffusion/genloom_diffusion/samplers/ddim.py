"""``ddim``: denoising diffusion implicit models (Song et al., 2021).

Each step moves the clean-data estimate to the next timestep's noise level and
adds back the predicted noise direction; ``eta`` sets how much fresh noise replaces
it (0: deterministic, the same noise gives the same sample at any step count;
1: the DDPM posterior's variance). Works with any number of ``steps``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genloom_diffusion.denoising import DiffusionSampler, NoiseSchedule, Run
from genloom_diffusion.denoising.options import Option, between


def ddim_step(schedule: NoiseSchedule, x0: Tensor, eps: Tensor, x: Tensor, t: int, t_prev: int,
              eta: float = 0.0, noise: Tensor | None = None) -> Tensor:
    """One DDIM step from ``x`` at ``t`` to ``t_prev`` (``-1``: the clean data).

    ``x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - std^2) eps + std noise``, with
    ``std = eta * sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))``.
    ``noise`` is needed when that ``std`` is not zero.
    """
    abar, abar_prev = schedule.alpha_bar(t), schedule.alpha_bar(t_prev)
    std = eta * math.sqrt((1.0 - abar_prev) / (1.0 - abar) * (1.0 - abar / abar_prev))
    direction = math.sqrt(max(1.0 - abar_prev - std * std, 0.0))
    out = torch.add(x0 * math.sqrt(abar_prev), eps, alpha=direction)
    if std > 0:
        if noise is None:
            raise ValueError("ddim_step with eta > 0 needs noise")
        out.add_(noise, alpha=std)
    return out


class DDIM(DiffusionSampler):
    """DDIM; ``steps`` defaults to 50."""

    label = "ddim"
    default_steps = 50
    options = {"eta": Option(0.0, "0 deterministic .. 1 DDPM-like", between(0, 1))}

    def step(self, run: Run, x: Tensor, t: int, t_next: int) -> Tensor:
        """One DDIM step from ``t`` to ``t_next``, with fresh noise when ``eta > 0``."""
        eta = run.options["eta"]
        x0, eps = run.x0_and_eps(run.predict(x, t), x, t)
        noise = run.noise(run.generator, x) if eta > 0 and t_next >= 0 else None
        return ddim_step(run.schedule, x0, eps, x, t, t_next, eta, noise)
