"""The diffusion model: any registered denoiser, trained to undo any noise schedule.

It owns the parts (a :class:`~genloom.Denoiser` and a noise schedule, both named in
config; optionally a frozen autoencoder for latent diffusion) and the objective:
noise a batch at random timesteps and regress the denoiser's output onto what its
``prediction`` kind says it should be (``eps``, ``x0`` or ``v``), weighted per
``loss_weighting``. With ``objective: flow`` it is a flow-matching model instead
(:mod:`genloom_diffusion.flow`): the denoiser (``prediction: v``) learns the velocity
of the straight path from data to noise, and ``flow_euler``/``flow_heun`` sample it.
Samplers are separate components (``ddpm``, ``ddim``,
``dpmpp_2m``, or another plugin's): they read what they need from the model through
the attributes listed under "What samplers read" below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genloom import EMA, ConfigError, DataInfo, Denoiser, GenerativeModel, build_component
from genloom.kinds import get_kind
from genloom.model import FitContext

from genloom_diffusion.denoising import NoiseSchedule
from genloom_diffusion.first_stage import FirstStage, FirstStageConfig
from genloom_diffusion.flow import TIME_SAMPLINGS, FlowPath
from genloom_diffusion.objective import WEIGHTINGS, loss_weight

#: what ``model.objective`` may be
OBJECTIVES = ("diffusion", "flow")

#: batches of training data used to measure the latent scale when training starts
SCALE_BATCHES = 8


class Diffusion(GenerativeModel):
    """Denoising diffusion (Ho et al., 2020) with interchangeable parts.

    It keeps this library's :class:`~genloom_diffusion.DenoisingModel` contract, so every
    :class:`~genloom_diffusion.DiffusionSampler` (this plugin's or another's) drives it:
    ``noise_schedule`` (a :class:`~genloom_diffusion.NoiseSchedule`), ``component(Denoiser)`` (the
    EMA copy when ``ema`` is on), ``sample_shape``, ``null_label``, ``x0_range`` and
    ``to_data``. ``model.latent`` is a :class:`~genloom_diffusion.FirstStageConfig`: the frozen
    autoencoder of latent diffusion is this library's :class:`~genloom_diffusion.FirstStage`.
    """

    likelihood = "none"
    has_latent_space = False
    default_sampler = "diffusion:ddim"
    subcomponents = {
        "denoiser": ("denoiser", "diffusion:unet"),
        "schedule": ("noise_schedule", "diffusion:linear"),
    }

    @dataclass
    class Config:
        #: ``diffusion`` (a noise schedule's forward process) or ``flow`` (rectified flow)
        objective: str = "diffusion"
        #: flow only: how training draws the time (uniform or logit_normal)
        flow_time: str = "uniform"
        timesteps: int = 1000
        conditional: bool = False
        #: share of training labels replaced by "no label" (classifier-free guidance)
        cond_dropout: float = 0.1
        loss_weighting: str = "mse"
        min_snr_gamma: float = 5.0
        ema: bool = True
        ema_decay: float = 0.999
        #: ramp the EMA's decay as min(ema_decay, (1 + k) / (10 + k)) (genloom.EMA's warmup):
        #: without it a short run samples from an average still holding its random start
        ema_warmup: bool = False
        latent: FirstStageConfig = field(default_factory=FirstStageConfig)

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        _check_config(cfg, info)
        latent = cfg.latent.checkpoint or cfg.latent.model
        self.first_stage = FirstStage.from_config(cfg.latent, info, key="model.latent") if latent else None
        self.sample_shape = self.first_stage.latent_shape if self.first_stage else tuple(info.shape)
        self.num_classes = info.num_classes if cfg.conditional else 0
        self.denoiser = build_component(
            "denoiser", cfg.denoiser, data_shape=self.sample_shape,
            num_classes=self.num_classes, timesteps=cfg.timesteps,
        )
        if not isinstance(self.denoiser, Denoiser):
            raise TypeError(f"denoiser '{cfg.denoiser.name}' is not a genloom.Denoiser")
        if self.denoiser.prediction not in ("eps", "x0", "v"):
            raise ValueError(f"denoiser '{cfg.denoiser.name}' predicts {self.denoiser.prediction!r}, "
                             "not one of eps, x0, v")
        if cfg.objective == "flow" and self.denoiser.prediction != "v":
            raise ConfigError("model.objective=flow trains the denoiser to predict a velocity: "
                              "set model.denoiser.prediction=v")
        table = build_component("noise_schedule", cfg.schedule, timesteps=cfg.timesteps)
        self.noise_schedule = NoiseSchedule(table.alphas_cumprod())
        if len(self.noise_schedule.alphas_cumprod) != cfg.timesteps:
            raise ValueError(f"noise schedule '{cfg.schedule.name}' returned "
                             f"{len(self.noise_schedule.alphas_cumprod)} values for {cfg.timesteps} timesteps")
        self.ema = EMA(self.denoiser, cfg.ema_decay, warmup=cfg.ema_warmup) if cfg.ema else None
        #: what the samplers check they solve (see DiffusionSampler.objective)
        self.objective: str = cfg.objective
        self.flow_path = FlowPath(cfg.timesteps) if cfg.objective == "flow" else None
        if self.flow_path is not None:
            self.default_sampler = "diffusion:flow_euler"

    # -- what samplers read -----------------------------------------------------------

    def component(self, interface: type) -> nn.Module | None:
        if interface is Denoiser:
            return self.ema.module if self.ema is not None else self.denoiser
        return super().component(interface)

    @property
    def null_label(self) -> int | None:
        """The label meaning "no label", when training taught the denoiser what it means."""
        return self.num_classes if self.num_classes and self.cfg.cond_dropout > 0 else None

    @property
    def x0_range(self) -> float | None:
        """Data whose kind has a value range (images: [-1, 1]) is clipped there by
        samplers by default; points and latents have no fixed range."""
        value_range = get_kind(self.info.kind).value_range
        if self.first_stage is not None or value_range is None:
            return None
        return max(abs(v) for v in value_range)

    def to_data(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """The sampler's final ``x_0`` as data: decoded when diffusing in a latent space."""
        return x if self.first_stage is None else self.first_stage.decode(x, cond)

    # -- the objective ----------------------------------------------------------------

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        x, labels = batch["x"], self._labels(batch)
        if self.first_stage is not None:
            x = self.first_stage.encode(x, batch.get("y"))
        if self.flow_path is not None:
            return self._flow_losses(x, labels)
        schedule = self.noise_schedule
        t = torch.randint(0, schedule.timesteps, (len(x),), device=x.device)
        noise = torch.randn_like(x)
        out = self.denoiser(schedule.add_noise(x, noise, t), t, labels)
        kind = self.denoiser.prediction
        err = (out - schedule.target(kind, x, noise, t)).pow(2).flatten(1).mean(dim=1)
        if self.cfg.loss_weighting == "mse":
            return {"loss": err.mean()}
        weight = loss_weight(self.cfg.loss_weighting, kind, schedule.snr(t), self.cfg.min_snr_gamma)
        return {"loss": (weight * err).mean(), "mse": err.mean()}

    def _flow_losses(self, x: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """Flow matching: regress the denoiser onto ``noise - x`` at ``x_s`` (plain MSE)."""
        path = self.flow_path
        s = path.draw_times(len(x), self.cfg.flow_time, x.device)
        noise = torch.randn_like(x)
        out = self.denoiser(path.add_noise(x, noise, s), path.model_time(s), labels)
        return {"loss": (out - path.target(x, noise)).pow(2).mean()}

    def _labels(self, batch: dict[str, Tensor]) -> Tensor | None:
        """Class labels for the denoiser; in training, ``cond_dropout`` of them become "no label"."""
        if not self.num_classes:
            return None
        if batch.get("y") is None:
            raise ConfigError("model.conditional=true, but the batch has no labels 'y'")
        y = batch["y"].long()
        if self.training and self.cfg.cond_dropout > 0:
            drop = torch.rand(len(y), device=y.device) < self.cfg.cond_dropout
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        return y

    # -- lifecycle hooks (the loop itself is the core's) -----------------------------

    def on_fit_start(self, fit: FitContext) -> None:
        """Measure the latent scale on training data before the first step, if asked to."""
        stage = self.first_stage
        if stage is None or bool(stage.measured):
            return
        stage.fit_scale(list(fit.train_batches(SCALE_BATCHES)))

    def after_optimizer_step(self, player: str | None) -> None:
        """Update the EMA weights once per optimizer step (not per accumulated batch)."""
        if self.ema is not None:
            self.ema.update(self.denoiser)


def _check_config(cfg: Any, info: DataInfo) -> None:
    """One-line errors for option values the schema's types cannot rule out."""
    if not get_kind(info.kind).continuous:
        raise ConfigError(f"diffusion models continuous data (images, points), not {info.kind!r} data")
    if cfg.timesteps < 2:
        raise ConfigError(f"model.timesteps must be at least 2, got {cfg.timesteps}")
    if cfg.conditional and not info.num_classes:
        raise ConfigError("model.conditional=true needs a dataset with class labels (e.g. digits)")
    if not 0 <= cfg.cond_dropout < 1:
        raise ConfigError(f"model.cond_dropout must be in [0, 1), got {cfg.cond_dropout}")
    if cfg.objective not in OBJECTIVES:
        raise ConfigError(f"model.objective: unknown objective '{cfg.objective}'; "
                          f"valid choices: {', '.join(OBJECTIVES)}")
    if cfg.objective == "flow":
        if cfg.loss_weighting != "mse":
            raise ConfigError("model.objective=flow takes model.loss_weighting=mse (min_snr "
                              "weights a diffusion schedule's timesteps)")
        if cfg.flow_time not in TIME_SAMPLINGS:
            raise ConfigError(f"model.flow_time: unknown time sampling '{cfg.flow_time}'; "
                              f"valid choices: {', '.join(TIME_SAMPLINGS)}")
    if cfg.loss_weighting not in WEIGHTINGS:
        raise ConfigError(f"model.loss_weighting: unknown weighting '{cfg.loss_weighting}'; "
                          f"valid choices: {', '.join(WEIGHTINGS)}")
    if cfg.min_snr_gamma <= 0:
        raise ConfigError(f"model.min_snr_gamma must be positive, got {cfg.min_snr_gamma}")
    if cfg.ema and not 0 < cfg.ema_decay < 1:
        raise ConfigError(f"model.ema_decay must be in (0, 1), got {cfg.ema_decay}")
