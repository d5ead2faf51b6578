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

from torch import Tensor

from genloom_diffusion import Option, Run, SigmaSpaceSampler, between

from genloom_ebm.samplers.karras import derivative, ve_sigma


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
    default_steps = 50
    options = {"eta": Option(1.0, "1 ancestral .. 0 deterministic Euler", between(0, 1))}

    def step(self, run: Run, x: Tensor, t: int, t_next: int) -> Tensor:
        """One Euler step from ``sigma_t`` down to ``sigma_down``, then fresh noise."""
        eta = run.options["eta"]
        sigma, sigma_next = ve_sigma(run.schedule, t), ve_sigma(run.schedule, t_next)
        x0 = self.denoise(run, x, t)
        fresh = run.noise(run.generator, x) if eta > 0 and sigma_next > 0 else None
        return euler_ancestral_step(x, x0, sigma, sigma_next, eta, fresh)
