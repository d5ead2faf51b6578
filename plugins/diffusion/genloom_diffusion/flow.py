"""Flow matching (rectified flow; Lipman et al., 2023; Liu et al., 2023): the straight
path from data to noise, and the velocity a denoiser learns along it.

At time ``s`` in ``[0, 1]``, ``x_s = (1 - s) x_0 + s eps``: data at 0, pure noise at 1.
Its velocity ``dx_s/ds = eps - x_0`` is the same at every ``s`` of one pair, so a network
trained to predict it (mean squared error, no weighting) learns the marginal velocity
field, and sampling integrates ``dx/ds = v(x, s)`` from ``s = 1`` to ``0`` (Euler, Heun).
Straight paths need few steps. The denoiser sees ``s`` scaled to ``s * T`` (``T`` the
model's ``timesteps``, 1000 by default), the range its time embedding was built for, as
diffusers' ``FlowMatchEulerDiscreteScheduler`` and Stable Diffusion 3 do.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: how training draws the time ``s``: uniform, or logit-normal (Esser et al., 2024: more
#: weight on the middle of the path, where the velocity is hardest to predict)
TIME_SAMPLINGS = ("uniform", "logit_normal")


class FlowPath:
    """The rectified-flow path of a model with ``timesteps`` (its denoiser's time scale)."""

    def __init__(self, timesteps: int) -> None:
        self.timesteps = timesteps

    def add_noise(self, x0: Tensor, noise: Tensor, s: Tensor) -> Tensor:
        """``x_s = (1 - s) x_0 + s noise``, one ``s`` per example."""
        s = s.view((-1,) + (1,) * (x0.ndim - 1)).to(x0.dtype)
        return torch.lerp(x0, noise, s)

    @staticmethod
    def target(x0: Tensor, noise: Tensor) -> Tensor:
        """The velocity ``noise - x_0`` the denoiser regresses onto."""
        return noise - x0

    def model_time(self, s: Tensor | float) -> Tensor | float:
        """The time input the denoiser sees: ``s * T``."""
        return s * self.timesteps

    @staticmethod
    def draw_times(n: int, sampling: str, device: torch.device) -> Tensor:
        """``n`` training times in ``(0, 1)``."""
        if sampling == "uniform":
            return torch.rand(n, device=device)
        if sampling == "logit_normal":
            return torch.sigmoid(torch.randn(n, device=device))
        raise ValueError(f"unknown flow time sampling {sampling!r}; use one of {', '.join(TIME_SAMPLINGS)}")


def flow_sigmas(steps: int, shift: float = 1.0) -> list[float]:
    """The ``steps + 1`` times a flow sampler visits, from 1 (noise) to 0 (data).

    Evenly spaced, then warped by ``shift``: ``s' = shift s / (1 + (shift - 1) s)``
    (diffusers' ``shift``; above 1 spends more steps at high noise, as Stable Diffusion 3
    does at high resolutions). ``shift = 1`` leaves them even.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not shift > 0 or not math.isfinite(shift):
        raise ValueError(f"shift must be a positive number, got {shift}")
    even = [1.0 - i / steps for i in range(steps + 1)]
    return [shift * s / (1 + (shift - 1) * s) for s in even]


def euler_step(x: Tensor, v: Tensor, s: float, s_next: float) -> Tensor:
    """One Euler step of ``dx/ds = v`` from ``s`` to ``s_next``."""
    return torch.add(x, v, alpha=s_next - s)


def heun_step(x: Tensor, v: Tensor, v_pred: Tensor, s: float, s_next: float) -> Tensor:
    """Heun's corrector: the step from ``x`` redone with the mean of the velocity ``v`` at
    ``(x, s)`` and ``v_pred`` at the Euler predictor ``(euler_step(x, v, s, s_next), s_next)``."""
    return torch.add(x, v + v_pred, alpha=0.5 * (s_next - s))
