"""``dpmpp_2m``: DPM-Solver++ (2M), a second-order multistep ODE solver (Lu et al., 2022).

Sampling is solving the probability-flow ODE. In the log-SNR time
``lambda = log(alpha / sigma)`` its solution has a closed form apart from an
integral of the clean-data prediction; DPM-Solver++ approximates that prediction
as linear in ``lambda`` using the previous step's estimate (multistep: one denoiser
call per step). The first step has no history and the last step lands on the
clean data, so both are first order (and then equal DDIM's). Good samples in 10-20
steps where DDIM needs more. With ``karras=true`` the steps sit at Karras et al.
(2022)'s noise levels (continuous timesteps, not rounded): diffusers'
``DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", use_karras_sigmas=True)``.
"""

from __future__ import annotations

import math
import torch
from torch import Tensor

from genloom_diffusion.denoising import DiffusionSampler, NoiseSchedule, Run
from genloom_diffusion.denoising.options import Option, flag


def dpmpp_2m_step(schedule: NoiseSchedule, x0: Tensor, x: Tensor, t: float, t_next: float,
                  previous: tuple[Tensor, float] | None = None) -> Tensor:
    """One step from ``x`` at ``t`` to ``t_next`` (``-1``: the clean data).

    ``previous`` is ``(x0 estimate, timestep)`` of the step before, or None for a
    first-order step. With ``h = lambda_next - lambda_t`` and ``r = h_prev / h``::

        x_next = (sigma_next / sigma_t) x - alpha_next (exp(-h) - 1) D
        D = x0                                     (first order)
        D = x0 + (x0 - x0_prev) / (2 r)            (second order)
    """
    if t_next < 0:  # sigma_next = 0: the solution is the clean-data estimate itself
        return x0.clone()
    lam, lam_next = schedule.log_snr(t), schedule.log_snr(t_next)
    h = lam_next - lam
    d = x0
    if previous is not None:
        x0_prev, t_prev = previous
        r = (lam - schedule.log_snr(t_prev)) / h
        d = torch.add(x0, x0 - x0_prev, alpha=0.5 / r)
    ratio = schedule.sigma(t_next) / schedule.sigma(t)
    return torch.add(x * ratio, d, alpha=-schedule.alpha(t_next) * math.expm1(-h))


class DPMSolverPP2M(DiffusionSampler):
    """DPM-Solver++ (2M); ``steps`` defaults to 20."""

    label = "dpmpp_2m"
    default_steps = 20
    options = {"karras": Option(False, "Karras-spaced noise levels instead of evenly spaced timesteps", flag)}

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """One multistep update; the step's ``(x0, t)`` is kept in ``run.state`` for the next."""
        x0, _ = run.x0_and_eps(run.predict(x, t), x, t)
        x = dpmpp_2m_step(run.schedule, x0, x, t, t_next, run.state.get("previous"))
        run.state["previous"] = (x0, t)
        return x
