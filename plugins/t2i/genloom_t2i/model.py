"""The text-to-image model: a prompt-conditioned denoiser trained with caption dropout.

It composes parts from two libraries without importing either's model: the text
encoder is a registered ``text_encoder`` component (genloom-text's ``chars`` by default),
the noise schedule a registered ``noise_schedule`` (genloom-diffusion's), and it keeps
genloom-diffusion's :class:`~genloom_diffusion.DenoisingModel` contract so that library's
samplers (``ddim``, ``ddpm``, ``dpmpp_2m``, a third party's) drive it. The denoiser's
``cond`` is the prompt's token ids; the "no prompt" input is all padding (id 0), which
is what :attr:`null_label` tells the samplers, so classifier-free guidance works unchanged.

Two objectives (``objective``): ``diffusion``, regressing the denoiser's ``prediction``
(``eps``, ``x0`` or ``v``) at a random timestep of the schedule, and ``flow``, rectified
flow through genloom-diffusion's :class:`~genloom_diffusion.flow.FlowPath` (the denoiser
predicts the velocity; ``t2i:prompt`` then runs ``diffusion:flow_euler``). The CPU recipe
trains with ``flow``: on the 28x28 captioned digits an ``eps`` model still draws ink
everywhere after a few hundred steps (FID in the tens of thousands) where the same UNet
under flow matching draws strokes (docs/text-to-image.md has the comparison).

Training captions come from the batch: ``captions`` (zero-padded UTF-8 bytes, one or
more phrasings per example: one is drawn per step), else ``y`` labels written as
``"a <class name>"``, else no prompt. ``cond_dropout`` of the prompts are replaced by
none, which teaches the unconditional prediction guidance needs.

The latent variant (``model.latent``, a :class:`~genloom_diffusion.FirstStageConfig` as
the ``diffusion`` model's ``latent``): the same UNet denoises the latents of another run's
frozen autoencoder (any model with an Encoder and a Generator: a VAE, a VQ-VAE, an
imported ``AutoencoderKL``), encoded by genloom-diffusion's
:class:`~genloom_diffusion.FirstStage`, which also copies the autoencoder's config and
weights into this run (sampling and export do not need its run) and measures the latent
scale when training starts (``scale: 0``); samples are decoded with its Generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genloom import EMA, ConfigError, DataInfo, Denoiser, GenerativeModel, build_component
from genloom.model import FitContext
from genloom.kinds import get_kind
from genloom_diffusion import PREDICTIONS, FirstStage, FirstStageConfig, NoiseSchedule
from genloom_diffusion.flow import TIME_SAMPLINGS, FlowPath

from genloom_t2i.unet import CrossAttentionUNet


#: batches of training data the latent variant measures its latent scale on
SCALE_BATCHES = 8


def first_stage(cfg: Any, info: DataInfo) -> FirstStage | None:
    """The frozen autoencoder ``model.latent`` names (genloom-diffusion's FirstStage), or None.

    The prompt is the only condition, so a class-conditional autoencoder (which would need
    a label to encode and decode) is refused with a one-line error."""
    if not (cfg.checkpoint or cfg.model):
        return None
    stage = FirstStage.from_config(cfg, info, key="model.latent")
    if stage.conditional:
        raise ConfigError("model.latent.checkpoint holds a class-conditional autoencoder; t2i is "
                          "conditioned on the prompt only: use an unconditional one")
    return stage


class TextToImage(GenerativeModel):
    """Prompt-conditioned diffusion; sample with ``t2i:prompt`` (its default sampler)."""

    likelihood = "none"
    has_latent_space = False
    default_sampler = "t2i:prompt"
    subcomponents = {
        "text_encoder": ("text_encoder", "text:chars"),
        "schedule": ("noise_schedule", "diffusion:cosine"),
    }

    @dataclass
    class Config:
        #: ``diffusion`` (the noise schedule's forward process) or ``flow`` (rectified
        #: flow: the denoiser predicts the velocity; sampled by ``diffusion:flow_euler``)
        objective: str = "diffusion"
        #: flow only: how training draws the time (``uniform`` or ``logit_normal``)
        flow_time: str = "logit_normal"
        #: diffusion only: what the denoiser predicts, ``eps``, ``x0`` or ``v``
        prediction: str = "eps"
        timesteps: int = field(default=1000, metadata={"min": 2})
        channels: int = field(default=32, metadata={"min": 4})
        heads: int = field(default=4, metadata={"min": 1})
        #: also add the prompt's pooled text vector to the timestep embedding (the recipes
        #: turn it on; off by default so that runs saved before it existed still load)
        pooled: bool = False
        #: share of training prompts replaced by "no prompt" (classifier-free guidance)
        cond_dropout: float = field(default=0.1, metadata={"min": 0.0, "max": 0.99})
        #: the guidance scale t2i:prompt uses when none is given
        guidance: float = field(default=3.0, metadata={"min": 0.0})
        #: keep the text encoder's weights fixed (train only the UNet)
        freeze_text: bool = False
        #: a safetensors file of text-encoder weights a new training run starts from
        #: (written by ``python -m genloom_t2i.text_pretrain``), or ``shipped:NAME`` for one
        #: this package ships (``shipped:captions-contrastive``); with ``freeze_text`` the
        #: encoder stays the pre-trained one. Read when training starts, not on resume or
        #: sampling: the run's checkpoints hold the weights
        text_checkpoint: str = ""
        ema: bool = True
        ema_decay: float = field(default=0.999, metadata={"min": 0.0, "max": 0.99999})
        #: ramp the EMA's decay (genloom.EMA's warmup): a short run's average drops its random start
        ema_warmup: bool = False
        #: the latent variant: a frozen first stage to denoise the latents of
        #: (``checkpoint``: an autoencoder's run, checkpoint or export; ``scale`` 0: measured)
        latent: FirstStageConfig = field(default_factory=FirstStageConfig)

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if info.kind != "image" or not get_kind(info.kind).continuous:
            raise ConfigError(f"model t2i draws images, not {info.kind!r} data")
        if cfg.objective not in ("diffusion", "flow"):
            raise ConfigError(f"model.objective: unknown objective {cfg.objective!r}; use diffusion or flow")
        if cfg.prediction not in PREDICTIONS:
            raise ConfigError(f"model.prediction: unknown kind {cfg.prediction!r}; use one of {', '.join(PREDICTIONS)}")
        if cfg.flow_time not in TIME_SAMPLINGS:
            raise ConfigError(f"model.flow_time: unknown time sampling {cfg.flow_time!r}; "
                              f"use one of {', '.join(TIME_SAMPLINGS)}")
        #: the frozen autoencoder whose latents are denoised (None: pixels)
        self.first_stage = first_stage(cfg.latent, info)
        self.sample_shape = self.first_stage.latent_shape if self.first_stage else tuple(info.shape)
        if cfg.text_checkpoint:  # an unknown shipped name fails now, not when training starts
            from genloom_t2i.text_pretrain import resolve_text_checkpoint
            resolve_text_checkpoint(cfg.text_checkpoint)
        text = build_component("text_encoder", cfg.text_encoder)
        if cfg.freeze_text:
            text.requires_grad_(False)
        prediction = "v" if cfg.objective == "flow" else cfg.prediction
        try:
            self.denoiser = CrossAttentionUNet(self.sample_shape, text, channels=cfg.channels, heads=cfg.heads,
                                               pooled=cfg.pooled, prediction=prediction)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        table = build_component("noise_schedule", cfg.schedule, timesteps=cfg.timesteps)
        self.noise_schedule = NoiseSchedule(table.alphas_cumprod())
        #: what genloom-diffusion's samplers check they solve
        self.objective: str = cfg.objective
        self.flow_path = FlowPath(cfg.timesteps) if cfg.objective == "flow" else None
        #: the diffusion sampler ``t2i:prompt`` runs when no ``base`` is given
        self.base_sampler = "diffusion:flow_euler" if self.flow_path is not None else "diffusion:ddim"
        self.ema = EMA(self.denoiser, cfg.ema_decay, warmup=cfg.ema_warmup) if cfg.ema else None

    # -- what samplers read (genloom_diffusion.DenoisingModel) ------------------------

    @property
    def conditional(self) -> bool:
        """Always: the prompt is the condition (labels are turned into prompts)."""
        return True

    @property
    def text_encoder(self) -> nn.Module:
        """The text encoder whose vocabulary prompts are tokenized with."""
        return self.denoiser.text

    def component(self, interface: type) -> nn.Module | None:
        if interface is Denoiser:
            return self.ema.module if self.ema is not None else self.denoiser
        return super().component(interface)

    @property
    def null_label(self) -> int | None:
        """The padding id: an all-padding prompt is "no prompt" (when dropout taught it)."""
        return 0 if self.cfg.cond_dropout > 0 else None

    @property
    def x0_range(self) -> float | None:
        """Pixels are clipped to [-1, 1]; latents have no fixed range."""
        return None if self.first_stage is not None else 1.0

    def to_data(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """The sampler's final ``x_0`` as images: decoded by the first stage in the latent variant."""
        return x if self.first_stage is None else self.first_stage.decode(x)

    # -- prompts ----------------------------------------------------------------------

    def tokenize(self, prompts: Sequence[str]) -> Tensor:
        """``(n, context)`` token ids of ``prompts``; a one-line ConfigError for a prompt
        that is too long or has characters the encoder does not know."""
        return self.text_encoder.tokenize(list(prompts))

    def label_prompts(self, labels: Tensor) -> list[str]:
        """``"a 7"`` for label 7: how a class label becomes a prompt."""
        names = self.info.class_names or [str(i) for i in range(self.info.num_classes or 0)]
        if any(int(v) < 0 or int(v) >= len(names) for v in labels.flatten()):
            raise ConfigError(f"class labels must be 0 to {len(names) - 1}")
        return [f"a {names[int(v)]}" for v in labels.flatten()]

    def batch_tokens(self, batch: dict[str, Tensor]) -> Tensor:
        """The training prompts of ``batch`` as ids, after caption dropout."""
        x = batch["x"]
        if batch.get("captions") is not None:
            caps = batch["captions"]
            if caps.dim() == 3:  # several phrasings: one per example, drawn now
                pick = torch.randint(0, caps.shape[1], (len(caps),), device=caps.device)
                caps = caps[torch.arange(len(caps), device=caps.device), pick]
            tokens = self.text_encoder.tokenize_bytes(caps)
        elif batch.get("y") is not None and self.info.num_classes:
            tokens = self.tokenize(self.label_prompts(batch["y"].cpu())).to(x.device)
        else:
            tokens = torch.zeros(len(x), 1, dtype=torch.long, device=x.device)
        if self.training and self.cfg.cond_dropout > 0:
            drop = torch.rand(len(x), device=x.device) < self.cfg.cond_dropout
            tokens = tokens.masked_fill(drop[:, None], 0)
        return tokens

    # -- the objective ----------------------------------------------------------------

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        x = batch["x"]
        tokens = self.batch_tokens(batch)
        if self.first_stage is not None:
            x = self.first_stage.encode(x)
        noise = torch.randn_like(x)
        if self.flow_path is not None:  # rectified flow: the velocity of the straight path
            path = self.flow_path
            s = path.draw_times(len(x), self.cfg.flow_time, x.device)
            out = self.denoiser(path.add_noise(x, noise, s), path.model_time(s), tokens)
            return {"loss": (out - path.target(x, noise)).pow(2).mean()}
        schedule = self.noise_schedule
        t = torch.randint(0, schedule.timesteps, (len(x),), device=x.device)
        out = self.denoiser(schedule.add_noise(x, noise, t), t, tokens)
        target = schedule.target(self.denoiser.prediction, x, noise, t)
        return {"loss": (out - target).pow(2).mean()}

    def on_fit_start(self, fit: FitContext) -> None:
        """A new run (step 0) starts its text encoder from ``text_checkpoint``; the latent
        variant measures its latent scale on training data unless already measured."""
        if self.cfg.text_checkpoint and fit.global_step == 0:
            self.load_text_checkpoint(self.cfg.text_checkpoint)
        if self.first_stage is not None and not bool(self.first_stage.measured):
            self.first_stage.fit_scale(list(fit.train_batches(SCALE_BATCHES)))

    def load_text_checkpoint(self, path: str) -> None:
        """Load pre-trained text-encoder weights into the denoiser and its EMA copy."""
        from genloom_t2i.text_pretrain import load_text_checkpoint
        load_text_checkpoint(self.denoiser.text, path)
        if self.ema is not None:
            self.ema.module.text.load_state_dict(self.denoiser.text.state_dict())

    def after_optimizer_step(self, player: str | None) -> None:
        """Update the EMA weights once per optimizer step."""
        if self.ema is not None:
            self.ema.update(self.denoiser)
