"""``diffusers``: denoising diffusion imported from a diffusers pipeline.

It is :class:`~genloom_diffusion.model.Diffusion` (so it samples with every diffusion
sampler, and fine-tunes like it) with three scheduler settings a diffusers pipeline
decides at sampling time and genloom's own model fixes: which timesteps ``steps``
visits (``timestep_spacing``, ``steps_offset``: :class:`SpacedSchedule`) and the
range predicted clean images are clipped to (``clip_sample_range``, 0: none).
:mod:`genloom_diffusion.hf_diffusers` builds it from a pipeline folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from genloom import ConfigError, DataInfo

from genloom_diffusion.denoising import NoiseSchedule
from genloom_diffusion.model import Diffusion

SPACINGS = ("leading", "trailing", "linspace")


class SpacedSchedule(NoiseSchedule):
    """A :class:`NoiseSchedule` whose :meth:`spaced` visits the timesteps diffusers'
    DDPM/DDIM schedulers visit for the same ``timestep_spacing`` and ``steps_offset``."""

    def __init__(self, alphas_cumprod: Tensor, spacing: str, offset: int) -> None:
        super().__init__(alphas_cumprod)
        self.spacing, self.offset = spacing, offset

    def spaced(self, steps: int) -> list[int]:
        """``steps`` timesteps from the noisiest down, as ``set_timesteps(steps)`` picks them.

        The sampler's step from each to the next (the last to the clean data) is the
        step diffusers takes whenever ``steps`` divides the training timesteps (always,
        for ``leading`` spacing); otherwise diffusers steps ``T // steps`` back instead."""
        n = self.timesteps
        if not 1 <= steps <= n:
            raise ValueError(f"steps must be between 1 and {n}, got {steps}")
        if self.spacing == "leading":
            ts = (np.arange(0, steps) * (n // steps)).round()[::-1] + self.offset
        elif self.spacing == "trailing":
            ts = np.round(np.arange(n, 0, -n / steps)) - 1
        else:
            ts = np.linspace(0, n - 1, steps).round()[::-1]
        out = [int(t) for t in ts]
        if out[0] >= n:
            raise ValueError(f"steps_offset {self.offset} with {steps} steps passes the last timestep {n - 1}")
        return out


class DiffusersDiffusion(Diffusion):
    """:class:`Diffusion` with a diffusers scheduler's spacing and clipping (see the module)."""

    subcomponents = {
        "denoiser": ("denoiser", "diffusion:diffusers_unet"),
        "schedule": ("noise_schedule", "diffusion:diffusers"),
    }

    @dataclass
    class Config(Diffusion.Config):
        ema: bool = False
        #: how ``steps`` timesteps are chosen: leading, trailing or linspace (diffusers' names)
        timestep_spacing: str = "leading"
        #: added to every timestep of ``leading`` spacing
        steps_offset: int = 0
        #: predicted clean images are clipped to [-r, r]; 0: not clipped
        clip_sample_range: float = 1.0

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        if cfg.timestep_spacing not in SPACINGS:
            raise ConfigError(f"model.timestep_spacing: unknown spacing '{cfg.timestep_spacing}'; "
                              f"valid choices: {', '.join(SPACINGS)}")
        if cfg.steps_offset < 0 or cfg.clip_sample_range < 0:
            raise ConfigError("model.steps_offset and model.clip_sample_range must not be negative")
        super().__init__(cfg, info)
        self.noise_schedule = SpacedSchedule(self.noise_schedule.alphas_cumprod, cfg.timestep_spacing,
                                             cfg.steps_offset)

    @property
    def x0_range(self) -> float | None:
        """The scheduler's ``clip_sample_range``, or None when it does not clip."""
        return float(self.cfg.clip_sample_range) or None
