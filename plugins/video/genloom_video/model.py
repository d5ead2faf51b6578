"""``video_diffusion``: denoising diffusion over whole clips.

The objective is the diffusion library's (noise a clip at a random timestep, regress the
denoiser's output on what its ``prediction`` kind says), with one addition: for a share
``1 - context_dropout`` of the training clips the first frame is given, both as extra
input channels of every frame and as the clip's own frame 0 left clean (not noised,
not regressed), so the temporal layers pass it on to the next frames a step at a time. The model keeps genloom-diffusion's
:class:`~genloom_diffusion.DenoisingModel` contract with ``conditional = False``, so any
diffusion sampler (``diffusion:ddim``, ``ddpm``, ``dpmpp_2m``, a third party's) makes
clips from nothing, and ``video:predict`` continues a given first frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genloom import EMA, ConfigError, DataInfo, Denoiser, GenerativeModel, build_component
from genloom.kinds import get_kind



class VideoDiffusion(GenerativeModel):
    """Diffusion over ``(frames, channels, height, width)`` clips with a space-time denoiser."""

    likelihood = "none"
    has_latent_space = False
    default_sampler = "diffusion:ddim"
    subcomponents = {
        "denoiser": ("denoiser", "video:spacetime"),
        "schedule": ("noise_schedule", "diffusion:cosine"),
    }

    @dataclass
    class Config:
        timesteps: int = 1000
        #: share of training clips whose first frame is not given (0: prediction only)
        context_dropout: float = 0.5
        ema: bool = True
        #: the EMA's decay once warmed up (it ramps as (1 + k) / (10 + k): genloom.EMA with warmup)
        ema_decay: float = 0.999

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        from genloom_diffusion import NoiseSchedule

        if len(info.shape) != 4 or not get_kind(info.kind).continuous:
            raise ConfigError(f"video_diffusion models clips (frames, channels, height, width), not "
                              f"{info.kind!r} data of shape {tuple(info.shape)} (data.name=moving_mnist)")
        if cfg.timesteps < 2:
            raise ConfigError(f"model.timesteps must be at least 2, got {cfg.timesteps}")
        if not 0 <= cfg.context_dropout <= 1:
            raise ConfigError(f"model.context_dropout must be in [0, 1], got {cfg.context_dropout}")
        if cfg.ema and not 0 < cfg.ema_decay < 1:
            raise ConfigError(f"model.ema_decay must be in (0, 1), got {cfg.ema_decay}")
        self.sample_shape = tuple(info.shape)
        self.denoiser = build_component("denoiser", cfg.denoiser, data_shape=self.sample_shape,
                                        num_classes=0, timesteps=cfg.timesteps)
        if not isinstance(self.denoiser, Denoiser):
            raise ConfigError(f"denoiser '{cfg.denoiser.name}' is not a genloom.Denoiser")
        table = build_component("noise_schedule", cfg.schedule, timesteps=cfg.timesteps)
        self.noise_schedule = NoiseSchedule(table.alphas_cumprod())
        self.ema = EMA(self.denoiser, cfg.ema_decay, warmup=True) if cfg.ema else None

    # -- what samplers read (genloom_diffusion.DenoisingModel) ----------------------------

    def component(self, interface: type) -> nn.Module | None:
        if interface is Denoiser:
            return self.ema.module if self.ema is not None else self.denoiser
        return super().component(interface)

    @property
    def null_label(self) -> int | None:
        return None

    @property
    def x0_range(self) -> float | None:
        return 1.0

    def to_data(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return x

    # -- the objective ------------------------------------------------------------------

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        x = batch["x"]
        schedule = self.noise_schedule
        t = torch.randint(0, schedule.timesteps, (len(x),), device=x.device)
        noise = torch.randn_like(x)
        x_t = schedule.add_noise(x, noise, t)
        drop = self.cfg.context_dropout if self.training else 0.0
        keep = torch.rand(len(x), device=x.device) >= drop
        # a given first frame is clean in the clip (as video:predict keeps it), so the
        # temporal layers carry it to its neighbours, and it is not regressed
        x_t[:, 0] = torch.where(keep[:, None, None, None], x[:, 0], x_t[:, 0])
        out = self.denoiser.denoise(x_t, t, x[:, 0], keep)
        target = schedule.target(self.denoiser.prediction, x, noise, t)
        err = (out - target).pow(2).mean(dim=(2, 3, 4))  # (n, frames)
        weight = torch.ones_like(err)
        weight[:, 0] = (~keep).to(err.dtype)
        return {"loss": (err * weight).sum() / weight.sum()}

    def after_optimizer_step(self, player: str | None) -> None:
        if self.ema is not None:
            self.ema.update(self.denoiser)
