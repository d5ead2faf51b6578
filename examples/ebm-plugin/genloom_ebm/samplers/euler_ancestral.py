"""``euler_ancestral``: Euler steps of the probability-flow ODE in sigma with fresh noise
added back after each (k-diffusion's ``sample_euler_ancestral``; diffusers'
``EulerAncestralDiscreteScheduler`` at ``eta=1``).

From ``sigma`` to ``sigma_next`` the step splits the target level into a deterministic
part and a fresh-noise part, ``sigma_next^2 = sigma_down^2 + sigma_up^2`` with
``sigma_up = min(sigma_next, eta sqrt(sigma_next^2 (sigma^2 - sigma_next^2) / sigma^2))``:
an Euler step down to ``sigma_down``, then noise of ``sigma_up``. ``eta=1`` is the
ancestral (DDPM-like) amount; ``eta=0`` is the plain deterministic Euler method.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genloom import ConfigError, Samples
from genloom.denoising import pairs

from genloom_ebm.samplers.karras import SigmaSpaceSampler, check_guidance_and_clip, derivative, ve_sigmas


def ancestral_sigmas(sigma: float, sigma_next: float, eta: float) -> tuple[float, float]:
    """``(sigma_down, sigma_up)`` of a step from ``sigma`` to ``sigma_next``."""
    if sigma_next == 0.0:
        return 0.0, 0.0
    up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return math.sqrt(sigma_next**2 - up**2), up


def euler_ancestral_step(x: Tensor, x0: Tensor, sigma: float, sigma_next: float, eta: float,
                         noise: Tensor | None) -> Tensor:
    """One step from ``x~`` at ``sigma`` to ``sigma_next`` given the clean-data estimate
    ``x0``; ``noise`` (standard normal, shaped like ``x``) is needed when ``sigma_up > 0``."""
    down, up = ancestral_sigmas(sigma, sigma_next, eta)
    out = x + derivative(x, x0, sigma) * (down - sigma)
    if up > 0:
        if noise is None:
            raise ValueError("an ancestral step with eta > 0 needs noise")
        out = out + noise * up
    return out


class EulerAncestral(SigmaSpaceSampler):
    """Euler ancestral; ``steps`` defaults to 50, one denoiser call each."""

    label = "euler_ancestral"

    def sample(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        eta: float = 1.0,
        guidance: float = 1.0,
        clip: bool | None = None,
    ) -> Samples:
        """``steps``: timesteps to visit (default 50, trailing spacing); ``eta``: 1
        ancestral .. 0 deterministic Euler; ``guidance``: classifier-free guidance scale
        (1: none); ``clip``: clip predicted x0 to [-1, 1] (default: for pixel-space images)."""
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
            raise ConfigError(f"eta must be a number between 0 and 1, got {eta!r}")
        check_guidance_and_clip(guidance, clip)
        run = self.start(model, n, cond, guidance, clip)
        ts = self.timesteps(run.schedule, steps, default=min(50, run.schedule.timesteps))
        sigmas = ve_sigmas(run.schedule, ts)
        x = self.start_noise(run, model, n, generator, ts[0])
        for i, (t, _t_next) in enumerate(self.steps_bar(pairs(ts))):
            x0 = self.denoise(run, x, t)
            fresh = run.noise(generator, x) if eta > 0 and sigmas[i + 1] > 0 else None
            x = euler_ancestral_step(x, x0, sigmas[i], sigmas[i + 1], float(eta), fresh)
        return self.finish(run, x, cond)
