"""Stage 2, ``vq-prior``: an autoregressive prior over a trained VQ-VAE's code grid.

The first stage is another run (``first_stage.checkpoint``), composed with
:class:`genloom_diffusion.FirstStage` (the genloom-diffusion library's): frozen, and copied into this run's config and weights on
first build, so this run's checkpoint samples without the first run's files. The prior
is any registered language model, named in config (``prior: {name: transformer}``)
and built through the registry, never imported: it models ``[BOS] + codes`` with the
code grid flattened row by row, where BOS is the id ``K`` after the ``K`` codes.

Training encodes each batch to codes with the frozen first stage and returns the
prior's own loss (nats per code). Sampling is the core's ``latent_prior`` sampler: the
prior draws codes with its own sampler and options (``prior.top_k=20``,
``prior_sampler=greedy``), then :meth:`VQPrior.decode_latents` decodes them.
``conditional: true`` makes the prior class-conditional (the prior model must have a
``conditional`` option, as the transformer does): each sample follows its own label.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genloom import (
    ConfigError, DataInfo, DiscreteEncoder, Encoder, GenerativeModel, Generator,
    build_component,
)
from genloom_diffusion import FirstStage, FirstStageConfig
from genloom_text import LanguageModel

from genloom_vqvae.codes_only import CodesOnly


class VQPrior(GenerativeModel):
    """A frozen discrete first stage and a language model over its codes."""

    likelihood = "none"  # the prior's loss is exact over codes, but not a likelihood of images
    has_latent_space = False
    default_sampler = "latent_prior"
    subcomponents = {"prior": ("model", "transformer")}

    @dataclass
    class Config:
        #: condition the prior on class labels (each sample follows its own --cond label)
        conditional: bool = False
        #: the stage-1 run; ``checkpoint`` is a run directory, .ckpt or export of a vqvae.
        #: ``scale`` does not apply to codes.
        first_stage: FirstStageConfig = field(default_factory=FirstStageConfig)

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.conditional and info.num_classes <= 0:
            raise ConfigError("model.conditional=true needs a dataset with class labels (e.g. digits)")
        if not cfg.first_stage.checkpoint and cfg.first_stage.model is None:
            raise ConfigError(
                "model.first_stage.checkpoint is required: the run directory of a trained vqvae "
                "(stage 1), e.g. model.first_stage.checkpoint=runs/vqvae-digits"
            )
        self.first_stage = FirstStage.from_config(cfg.first_stage, info)
        # The frozen first stage stays in eval mode on purpose (FirstStage.train), and
        # Lightning warns about every such module when fitting starts. Filtered here
        # because this plugin overrides no Lightning hook; the filter matches only that
        # message.
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
        if not self.first_stage.discrete:
            raise ConfigError(
                f"model.first_stage: {type(self.first_stage.encoder).__name__} makes continuous "
                "latents, not codes; use a vqvae run (or another model with a DiscreteEncoder)"
            )
        encoder = self.first_stage.encoder
        self.num_codes, self.code_shape = int(encoder.num_codes), tuple(encoder.code_shape)
        length = math.prod(self.code_shape)
        _prior_follows_condition(cfg)
        prior_info = DataInfo(kind="tokens", shape=(length + 1,), vocab_size=self.num_codes + 1,
                              num_classes=info.num_classes)
        prior = build_component("model", cfg.prior, info=prior_info)
        if not isinstance(prior, LanguageModel):
            raise ConfigError(
                f"model.prior: '{cfg.prior.name}' is a {type(prior).__name__}, not an "
                "autoregressive genloom_text.LanguageModel (e.g. transformer, rnn)"
            )
        prior.net = CodesOnly(prior.net, self.num_codes)
        prior.start_tokens = [self.num_codes]  # BOS: decoding starts from it
        self.prior = prior
        #: defaults for the prior's sampler: exactly one code grid per sample
        self.prior_options = {"max_new_tokens": length}

    # -- what samplers read ------------------------------------------------------------

    def component(self, interface: type) -> nn.Module | None:
        """The first stage's decoder as the Generator (``latent_prior`` checks for one)
        and its encoder as the Encoder (``uniform_codes`` samples the codebook alone)."""
        if interface is Generator:
            return self.first_stage.decoder
        if interface in (Encoder, DiscreteEncoder):
            return self.first_stage.encoder
        return super().component(interface)

    def decode_latents(self, latents: Tensor, cond: Tensor | None = None) -> Tensor:
        """Images from the prior's samples ``[BOS] + codes`` ``(n, 1 + grid cells)``."""
        codes = latents[:, 1:]
        length = math.prod(self.code_shape)
        if codes.shape[1] != length:
            raise ConfigError(
                f"the prior sampled {codes.shape[1]} codes, but a code grid holds {length}; "
                f"leave prior.max_new_tokens at {length}"
            )
        return self.first_stage.decode(codes.reshape(len(codes), *self.code_shape), cond)

    # -- the objective -----------------------------------------------------------------

    def code_tokens(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """``[BOS] + codes`` ``(n, 1 + grid cells)`` of images ``x`` under the frozen first stage."""
        codes = self.first_stage.codes(x, y).flatten(1)
        return torch.cat([codes.new_full((len(codes), 1), self.num_codes), codes], dim=1)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        y = batch.get("y")
        if self.conditional and y is None:
            raise ConfigError("model.conditional=true, but the batch has no labels 'y'")
        tokens = self.code_tokens(batch["x"], y)
        loss = self.prior.losses({"x": tokens, "y": y} if self.conditional else {"x": tokens})["loss"]
        cells = tokens.shape[1] - 1
        return {"loss": loss, "bits_per_image": loss.detach() * cells / math.log(2)}


def _prior_follows_condition(cfg: Any) -> None:
    """Set the prior's ``conditional`` option from the model's (one switch, not two)."""
    has_option = "conditional" in cfg.prior
    if has_option and cfg.prior.conditional and not cfg.conditional:
        raise ConfigError(
            "model.prior.conditional=true but model.conditional=false; set model.conditional=true "
            "(the prior follows it)"
        )
    if cfg.conditional:
        if not has_option:
            raise ConfigError(
                f"model.conditional=true, but the prior '{cfg.prior.name}' has no conditional "
                "option; use a prior that takes class labels (transformer)"
            )
        cfg.prior.conditional = True
