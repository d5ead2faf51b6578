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

from torch import Tensor

from genloom_diffusion.denoising import Run
from genloom_diffusion.denoising.options import Option, flag
from genloom_diffusion.denoising.sigma import SigmaSpaceSampler


def euler_step(x: Tensor, x0: Tensor, sigma: float, sigma_next: float) -> Tensor:
    """One Euler step of ``dx~/dsigma = (x~ - x0) / sigma`` from ``sigma`` to ``sigma_next``."""
    return x + (x - x0) * ((sigma_next - sigma) / sigma)


class Euler(SigmaSpaceSampler):
    """Euler in sigma space; ``steps`` defaults to 30, ``karras`` to true."""

    label = "euler"
    default_steps = 30
    options = {"karras": Option(True, "Karras-spaced noise levels, or evenly spaced timesteps", flag)}

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """One Euler step from ``t``'s noise level to ``t_next``'s (0 at ``t_next = -1``)."""
        sigma, sigma_next = run.schedule.ve_sigma(t), run.schedule.ve_sigma(t_next)
        return euler_step(x, self.denoise(run, x, t), sigma, sigma_next)
