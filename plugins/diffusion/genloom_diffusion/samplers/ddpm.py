"""``ddpm``: ancestral sampling (Ho et al., 2020), one posterior draw per step.

Each step samples ``x_prev ~ q(x_prev | x_t, x0_hat)``, the Gaussian posterior of the
forward process given the model's clean-data estimate, with its own variance
("fixed small" in DDPM's terms). With fewer ``steps`` than the schedule has
timesteps, the same formula runs between the visited timesteps, where the
per-step ``beta`` is ``1 - alpha_bar_t / alpha_bar_prev``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genloom_diffusion.denoising import DiffusionSampler, NoiseSchedule, Run


def ddpm_step(schedule: NoiseSchedule, x0: Tensor, x: Tensor, t: int, t_prev: int,
              noise: Tensor | None = None) -> Tensor:
    """One ancestral step from ``x`` at ``t`` to ``t_prev`` (``-1``: the clean data).

    ``noise`` (standard normal, shaped like ``x``) is required unless ``t_prev`` is -1,
    where the posterior has no variance.
    """
    abar, abar_prev = schedule.alpha_bar(t), schedule.alpha_bar(t_prev)
    beta = 1.0 - abar / abar_prev
    coef_x0 = math.sqrt(abar_prev) * beta / (1.0 - abar)
    coef_x = math.sqrt(abar / abar_prev) * (1.0 - abar_prev) / (1.0 - abar)
    mean = torch.add(x0 * coef_x0, x, alpha=coef_x)
    if t_prev < 0:
        return mean
    if noise is None:
        raise ValueError("ddpm_step needs noise for every step but the last")
    std = math.sqrt((1.0 - abar_prev) / (1.0 - abar) * beta)
    return mean.add_(noise, alpha=std)


class DDPM(DiffusionSampler):
    """Ancestral sampling; ``steps`` defaults to every timestep of the model's schedule."""

    label = "ddpm"
    default_steps = None

    def step(self, run: Run, x: Tensor, t: int, t_next: int) -> Tensor:
        """One posterior draw from ``t`` to ``t_next`` (no noise on the last step)."""
        x0, _ = run.x0_and_eps(run.predict(x, t), x, t)
        noise = run.noise(run.generator, x) if t_next >= 0 else None
        return ddpm_step(run.schedule, x0, x, t, t_next, noise)
