"""The sigma (variance-exploding) view of any genloom diffusion model, which the
Euler ancestral and Heun samplers integrate in (Karras et al., 2022).

genloom's forward process is variance preserving: ``x_t = alpha_t x_0 + s_t eps`` with
``alpha_t^2 + s_t^2 = 1``. Dividing by ``alpha_t`` gives ``x~ = x_0 + sigma_t eps`` with
``sigma_t = s_t / alpha_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``: the same process
with noise that only grows, where the probability-flow ODE is simply
``dx~/dsigma = (x~ - x0_hat) / sigma``. The denoiser is still called on
``x_t = alpha_t x~`` (diffusers' ``scale_model_input``), at the same integer timestep.

genloom-diffusion's :class:`genloom_diffusion.NoiseSchedule` has no sigma table; it is
derived here from ``alpha_bar(t)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError
from genloom_diffusion import DiffusionSampler, NoiseSchedule, Run


def ve_sigma(schedule: NoiseSchedule, t: int) -> float:
    """``sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``; 0 at ``t = -1`` (clean data)."""
    if t < 0:
        return 0.0
    abar = schedule.alpha_bar(t)
    return math.sqrt((1.0 - abar) / abar)


def ve_sigmas(schedule: NoiseSchedule, timesteps: list[int]) -> list[float]:
    """The sigma of each timestep to visit, then 0 for the clean data the last step reaches."""
    return [ve_sigma(schedule, t) for t in timesteps] + [0.0]


def check_guidance_and_clip(guidance: Any, clip: Any) -> None:
    """One-line ConfigErrors for ``guidance`` and ``clip`` values of the wrong type."""
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)):
        raise ConfigError(f"guidance must be a number, got {guidance!r}")
    if clip is not None and not isinstance(clip, bool):
        raise ConfigError(f"clip must be true or false, got {clip!r}")


class SigmaSpaceSampler(DiffusionSampler):
    """A :class:`genloom_diffusion.DiffusionSampler` whose state is ``x~ = x_t / alpha_t``.

    The base's loop runs it unchanged: only the start (:meth:`initial_x`) and each
    subclass's ``step`` work in sigma space. ``x~`` at the clean data (``sigma = 0``)
    is ``x_0`` itself, so the base's ``finish`` needs no conversion."""

    def initial_x(self, run: Run, model: Any, n: int, generator: torch.Generator | None,
                  t: int) -> Tensor:
        """``x~`` at the first timestep ``t``: the base's ``N(0, I)`` start in the model's
        own (variance-preserving) units, divided by ``alpha_t``, so its standard deviation
        is ``sqrt(sigma_t^2 + 1)``."""
        return self.initial_noise(run, model, n, generator) / run.schedule.alpha(t)

    def denoise(self, run: Run, x: Tensor, t: int) -> Tensor:
        """The clean-data estimate at ``x~`` (timestep ``t``): the guided denoiser is
        called on ``alpha_t x~`` and its output converted (and clipped, when asked)."""
        x_t = x * run.schedule.alpha(t)
        x0, _ = run.x0_and_eps(run.predict(x_t, t), x_t, t)
        return x0


def derivative(x: Tensor, x0: Tensor, sigma: float) -> Tensor:
    """``dx~/dsigma = (x~ - x0_hat) / sigma``, the probability-flow ODE in sigma."""
    return (x - x0) / sigma
