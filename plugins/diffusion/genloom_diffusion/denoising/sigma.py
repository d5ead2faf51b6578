"""The sigma (variance-exploding) view of any genloom diffusion model, which the
Karras-style samplers integrate in (Karras et al., 2022; k-diffusion; diffusers'
Euler and Heun schedulers).

genloom's forward process is variance preserving: ``x_t = alpha_t x_0 + s_t eps``.
Dividing by ``alpha_t`` gives ``x~ = x_0 + sigma~_t eps`` with ``sigma~_t = s_t / alpha_t``
(:meth:`~genloom_diffusion.NoiseSchedule.ve_sigma`): the same process with noise that
only grows, where the probability-flow ODE is ``dx~/dsigma~ = (x~ - x0_hat) / sigma~``.
The denoiser is still called on ``x_t = alpha_t x~`` (diffusers' ``scale_model_input``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom_diffusion.denoising.sampler import DiffusionSampler, Run


class SigmaSpaceSampler(DiffusionSampler):
    """A :class:`~genloom_diffusion.DiffusionSampler` whose state is ``x~ = x_t / alpha_t``.

    The base's loop runs it unchanged: only the start (:meth:`initial_x`) and each
    subclass's ``step`` (which reads :meth:`denoise`) work in sigma space. ``x~`` at the
    clean data (``sigma~ = 0``) is ``x_0`` itself, so the base's ``finish`` needs no
    conversion."""

    def initial_x(self, run: Run, model: Any, n: int, generator: torch.Generator | None,
                  t: float) -> Tensor:
        """``x~`` at the first timestep ``t``: the base's ``N(0, I)`` start in the model's
        own (variance-preserving) units divided by ``alpha_t``, so its standard deviation
        is ``sqrt(sigma~_t^2 + 1)``."""
        return self.initial_noise(run, model, n, generator) / run.schedule.alpha(t)

    def denoise(self, run: Run, x: Tensor, t: float) -> Tensor:
        """The clean-data estimate at ``x~`` (timestep ``t``): the guided denoiser is
        called on ``alpha_t x~`` and its output converted (and clipped, when asked)."""
        x_t = x * run.schedule.alpha(t)
        x0, _ = run.x0_and_eps(run.predict(x_t, t), x_t, t)
        return x0
