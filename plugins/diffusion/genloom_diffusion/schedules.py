"""The registered noise schedules: how much signal is left at each training timestep.

A ``noise_schedule`` component is built as ``cls(cfg, timesteps=T)`` and answers one
question, :meth:`alphas_cumprod`: the fraction of signal variance ``alpha_bar_t`` kept
at each of the ``T`` timesteps (``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t)
eps``). Everything else (conversions between predictions, SNR, sampler coefficients)
is derived from that table by :class:`~genloom_diffusion.NoiseSchedule`,
so another plugin adds a schedule by registering a class like these two, without
importing this package.

Tables are computed in float64: a product of 1000 factors in float32 loses about
five significant digits at the noisy end, where samplers divide by ``sqrt(alpha_bar)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


class Linear:
    """``beta_t`` rising linearly from ``beta_start`` to ``beta_end`` (DDPM's schedule)."""

    @dataclass
    class Config:
        beta_start: float = 1e-4
        beta_end: float = 0.02

    def __init__(self, cfg: Any, timesteps: int) -> None:
        if not 0 < cfg.beta_start <= cfg.beta_end < 1:
            raise ValueError(
                f"linear schedule needs 0 < beta_start <= beta_end < 1, got {cfg.beta_start}, "
                f"{cfg.beta_end}"
            )
        self.cfg, self.timesteps = cfg, timesteps

    def alphas_cumprod(self) -> Tensor:
        betas = torch.linspace(self.cfg.beta_start, self.cfg.beta_end, self.timesteps,
                               dtype=torch.float64, device="cpu")  # a table, even in a meta build
        return torch.cumprod(1.0 - betas, dim=0)


class Cosine:
    """``alpha_bar(t) = cos((t/T + s) / (1 + s) * pi/2)^2``, with each step's beta capped
    at ``max_beta`` so the last steps do not destroy all signal at once."""

    @dataclass
    class Config:
        s: float = 0.008
        max_beta: float = 0.999

    def __init__(self, cfg: Any, timesteps: int) -> None:
        if not 0 < cfg.max_beta < 1 or cfg.s < 0:
            raise ValueError(f"cosine schedule needs 0 < max_beta < 1 and s >= 0, got {cfg}")
        self.cfg, self.timesteps = cfg, timesteps

    def _alpha_bar(self, u: float) -> float:
        return math.cos((u + self.cfg.s) / (1 + self.cfg.s) * math.pi / 2) ** 2

    def alphas_cumprod(self) -> Tensor:
        n = self.timesteps
        betas = [
            min(1 - self._alpha_bar((i + 1) / n) / self._alpha_bar(i / n), self.cfg.max_beta)
            for i in range(n)
        ]
        return torch.cumprod(1.0 - torch.tensor(betas, dtype=torch.float64, device="cpu"), dim=0)
