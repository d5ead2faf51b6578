"""The sigma (variance-exploding) view of any genloom diffusion model, which the
Euler ancestral and Heun samplers integrate in (Karras et al., 2022).

genloom's forward process is variance preserving: ``x_t = alpha_t x_0 + s_t eps`` with
``alpha_t^2 + s_t^2 = 1``. Dividing by ``alpha_t`` gives ``x~ = x_0 + sigma_t eps`` with
``sigma_t = s_t / alpha_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``: the same process
with noise that only grows, where the probability-flow ODE is simply
``dx~/dsigma = (x~ - x0_hat) / sigma``. The denoiser is still called on
``x_t = alpha_t x~`` (diffusers' ``scale_model_input``), at the same integer timestep.

The samplers subclass genloom-diffusion's :class:`genloom_diffusion.SigmaSpaceSampler`
(the start in sigma space and the clean-data estimate at ``x~``); the sigma of an
integer timestep is computed here from ``alpha_bar(t)``.
"""

from __future__ import annotations

import math
from torch import Tensor

from genloom_diffusion import NoiseSchedule


def ve_sigma(schedule: NoiseSchedule, t: int) -> float:
    """``sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``; 0 at ``t = -1`` (clean data)."""
    if t < 0:
        return 0.0
    abar = schedule.alpha_bar(t)
    return math.sqrt((1.0 - abar) / abar)


def ve_sigmas(schedule: NoiseSchedule, timesteps: list[int]) -> list[float]:
    """The sigma of each timestep to visit, then 0 for the clean data the last step reaches."""
    return [ve_sigma(schedule, t) for t in timesteps] + [0.0]


def derivative(x: Tensor, x0: Tensor, sigma: float) -> Tensor:
    """``dx~/dsigma = (x~ - x0_hat) / sigma``, the probability-flow ODE in sigma."""
    return (x - x0) / sigma
