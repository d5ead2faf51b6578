"""``euler``: Euler's method for the probability-flow ODE in sigma (Karras et al., 2022,
Algorithm 1 without churn; diffusers' ``EulerDiscreteScheduler``), on Karras-spaced
noise levels by default.

Dividing genloom's variance-preserving ``x_t = alpha_t x_0 + sigma_t eps`` by ``alpha_t``
gives ``x~ = x_0 + sigma~ eps`` with ``sigma~ = sigma_t / alpha_t`` (the schedule's
:attr:`~genloom_diffusion.NoiseSchedule.sigmas`), where the ODE is
``dx~/dsigma~ = (x~ - x0_hat) / sigma~``. The sampler's state is ``x~``; the denoiser is
called on ``alpha_t x~`` at the continuous timestep of each noise level. Deterministic:
the only randomness is the starting noise. One denoiser call per step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Samples

from genloom_diffusion.denoising import DiffusionSampler, Run


def euler_step(x: Tensor, x0: Tensor, sigma: float, sigma_next: float) -> Tensor:
    """One Euler step of ``dx~/dsigma = (x~ - x0) / sigma`` from ``sigma`` to ``sigma_next``."""
    return x + (x - x0) * ((sigma_next - sigma) / sigma)


class Euler(DiffusionSampler):
    """Euler in sigma space; ``steps`` defaults to 30, ``karras`` to true."""

    label = "euler"
    default_steps = 30

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        karras: bool = True,
        guidance: float = 1.0,
        clip: bool | None = None,
    ) -> Samples:
        """``steps``: denoiser calls (default 30); ``karras``: Karras-spaced noise levels
        (default) or evenly spaced timesteps; ``guidance``: classifier-free guidance scale
        (1: none); ``clip``: clip predicted x0 to [-1, 1] (default: for pixel-space images)."""
        if not isinstance(karras, bool):
            raise ConfigError(f"karras must be true or false, got {karras!r}")
        return self.sample_loop(model, n, cond=cond, generator=generator, steps=steps,
                                guidance=guidance, clip=clip, karras=karras)

    def initial_x(self, run: Run, model: Any, n: int, generator: torch.Generator | None,
                  t: float) -> Tensor:
        """``x~`` at the first timestep: ``N(0, I)`` in the model's units divided by ``alpha_t``."""
        return self.initial_noise(run, model, n, generator) / run.schedule.alpha(t)

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """One Euler step from ``t``'s noise level to ``t_next``'s (0 at ``t_next = -1``)."""
        schedule = run.schedule
        x_t = x * schedule.alpha(t)
        x0, _ = run.x0_and_eps(run.predict(x_t, t), x_t, t)
        return euler_step(x, x0, schedule.ve_sigma(t), schedule.ve_sigma(t_next))
