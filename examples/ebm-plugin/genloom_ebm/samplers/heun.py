"""``heun``: Heun's second-order method for the probability-flow ODE in sigma
(Karras et al., 2022, Algorithm 1 without churn; diffusers' ``HeunDiscreteScheduler``).

Each step from ``sigma`` to ``sigma_next`` takes an Euler step, evaluates the
derivative again where it landed, and redoes the step with the average of the two
slopes. The last step, to ``sigma = 0`` where the derivative is undefined, stays an
Euler step, so ``steps`` visited timesteps cost ``2 steps - 1`` denoiser calls.
Deterministic: the only randomness is the starting noise.
"""

from __future__ import annotations

from torch import Tensor

from genloom_diffusion import Run, SigmaSpaceSampler

from genloom_ebm.samplers.karras import derivative, ve_sigma


def euler_step(x: Tensor, x0: Tensor, sigma: float, sigma_next: float) -> tuple[Tensor, Tensor]:
    """The Euler predictor from ``sigma`` to ``sigma_next``, and the slope it used."""
    d = derivative(x, x0, sigma)
    return x + d * (sigma_next - sigma), d


def heun_correct(x: Tensor, d: Tensor, x_pred: Tensor, x0_pred: Tensor, sigma: float,
                 sigma_next: float) -> Tensor:
    """Heun's corrector: the step from ``x`` redone with the mean of the slope ``d`` at
    ``x`` and the slope at the predictor ``x_pred`` (whose clean-data estimate is ``x0_pred``)."""
    d_next = derivative(x_pred, x0_pred, sigma_next)
    return x + (d + d_next) * (0.5 * (sigma_next - sigma))


class Heun(SigmaSpaceSampler):
    """Heun's method; ``steps`` defaults to 25 (49 denoiser calls)."""

    label = "heun"
    default_steps = 25

    def step(self, run: Run, x: Tensor, t: int, t_next: int) -> Tensor:
        """Euler's predictor, then Heun's corrector (none on the last step, to sigma 0)."""
        sigma, sigma_next = ve_sigma(run.schedule, t), ve_sigma(run.schedule, t_next)
        x_pred, d = euler_step(x, self.denoise(run, x, t), sigma, sigma_next)
        if t_next < 0:
            return x_pred
        return heun_correct(x, d, x_pred, self.denoise(run, x_pred, t_next), sigma, sigma_next)
