"""The GAN: a generator and a discriminator trained as two players of the core loop.

The plugin states only the objective: ``losses(batch, player)`` returns the
discriminator's or the generator's loss. Alternation, the d:g step ratio, optimizer
toggling, clipping and DDP are the core's job (its training adapter), so this file
holds no training loop; ``after_optimizer_step`` keeps the generator's EMA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from genloom import (
    EMA, ConfigError, DataInfo, GenerativeModel, Generator, OptimizerGroup, build_component,
)
from genloom.kinds import get_kind
from genloom_gan.losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty


def _with_spectral_norm(module: nn.Module) -> nn.Module:
    """Constrain every linear and conv layer of ``module`` to spectral norm <= ~1."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, spectral_norm(child))
        else:
            _with_spectral_norm(child)
    return module


class GAN(GenerativeModel):
    """Generative adversarial network over any registered generator/discriminator pair."""

    likelihood = "none"
    has_latent_space = True
    default_sampler = "prior"
    subcomponents = {
        "generator": ("generator", "gan:dcgan"),
        "discriminator": ("discriminator", "gan:dcgan"),
    }

    @dataclass
    class Config:
        latent_dim: int = field(default=32, metadata={"min": 1})
        #: "ns" (non-saturating), "hinge" or "wgan-gp"
        loss: str = "ns"
        #: discriminator steps per generator step (the generator steps every d_steps batches)
        d_steps: int = field(default=1, metadata={"min": 1})
        #: weight of the WGAN-GP gradient penalty (used with loss=wgan-gp)
        gp_weight: float = 10.0
        #: weight gamma of the R1 penalty gamma/2 * E||grad D(real)||^2; 0 turns it off
        r1_weight: float = 0.0
        #: spectral norm on every discriminator layer
        spectral_norm: bool = False
        #: decay of the generator's exponential moving average used for sampling; 0 = off
        ema_decay: float = 0.0
        conditional: bool = False
        #: weight of the mode-seeking term (MSGAN): the generator is also asked to make two
        #: samples of one label differ as much as their z do; 0 turns it off
        mode_seeking: float = field(default=0.0, metadata={"min": 0.0})

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.loss not in LOSSES:
            raise ConfigError(f"model.loss: unknown GAN loss '{cfg.loss}'; choose one of {', '.join(LOSSES)}")
        if cfg.d_steps < 1:
            raise ConfigError(f"model.d_steps must be >= 1, got {cfg.d_steps}")
        if not 0.0 <= cfg.ema_decay < 1.0:
            raise ConfigError(f"model.ema_decay must be in [0, 1), got {cfg.ema_decay}")
        if cfg.conditional and info.num_classes == 0:
            raise ConfigError("model.conditional=true needs a dataset with class labels (e.g. digits)")
        if not get_kind(info.kind).continuous:
            raise ConfigError(f"the GAN generates images or points, not {info.kind}")
        classes = info.num_classes if cfg.conditional else 0
        context = dict(data_shape=info.shape, latent_dim=cfg.latent_dim, num_classes=classes)
        self.generator = build_component("generator", cfg.generator, **context)
        self.discriminator = build_component("discriminator", cfg.discriminator, **context)
        if cfg.spectral_norm:
            _with_spectral_norm(self.discriminator)
        self.ema = EMA(self.generator, cfg.ema_decay) if cfg.ema_decay > 0 else None

    # -- players ----------------------------------------------------------------------

    def optimizer_groups(self) -> list[OptimizerGroup]:
        return [
            OptimizerGroup("discriminator", self.discriminator),
            OptimizerGroup("generator", self.generator, every_n_steps=self.cfg.d_steps),
        ]

    def _fake(self, n: int, cond: Tensor | None, device: torch.device) -> tuple[Tensor, Tensor]:
        """``n`` generated samples and the z they came from (the mode-seeking term needs z)."""
        z = torch.randn(n, self.cfg.latent_dim, device=device)
        return self.generator(z, cond), z

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        real = batch["x"]
        cond = batch.get("y") if self.conditional else None
        critic = lambda x: self.discriminator(x, cond)  # noqa: E731
        if player == "generator":
            fake, z = self._fake(len(real), cond, real.device)
            loss = generator_loss(self.cfg.loss, critic(fake))
            if self.cfg.mode_seeking > 0 and len(real) >= 2:
                ms = self._mode_seeking(z, fake, cond)
                return {"loss": loss + self.cfg.mode_seeking * ms, "adversarial": loss, "mode_seeking": ms}
            return {"loss": loss}
        if player not in (None, "discriminator"):
            raise ValueError(f"GAN has players 'discriminator' and 'generator', not {player!r}")
        with torch.no_grad():
            fake, _ = self._fake(len(real), cond, real.device)
        parts: dict[str, Tensor] = {}
        if self.cfg.r1_weight > 0:
            r1, real_logits = r1_penalty(critic, real)
            parts["r1"] = r1
        else:
            real_logits = critic(real)
        fake_logits = critic(fake)
        loss = discriminator_loss(self.cfg.loss, real_logits, fake_logits)
        parts["adversarial"] = loss
        if self.cfg.loss == "wgan-gp":
            parts["gp"] = gradient_penalty(critic, real, fake)
            loss = loss + self.cfg.gp_weight * parts["gp"]
        if "r1" in parts:
            loss = loss + 0.5 * self.cfg.r1_weight * parts["r1"]
        parts["real_score"] = real_logits.detach().mean()
        parts["fake_score"] = fake_logits.detach().mean()
        return {"loss": loss, **parts}

    def _mode_seeking(self, z: Tensor, fake: Tensor, cond: Tensor | None) -> Tensor:
        """MSGAN's term (Mao et al. 2019), ``1 / (mean|G(z1)-G(z2)| / mean|z1-z2| + eps)``,
        for the first half of the batch against fresh z of the same labels.

        A class-conditional generator can learn to ignore z and draw one image per label
        (on 28x28 MNIST recall fell to 0.002 by 700 batches with hinge or ns loss, spectral
        norm or not, minibatch std or not); this term is smallest when images move with z.
        """
        h = len(z) // 2
        z2 = torch.randn_like(z[:h])
        other = self.generator(z2, None if cond is None else cond[:h])
        ratio = (fake[:h] - other).abs().flatten(1).mean(1) / (z[:h] - z2).abs().mean(1)
        return 1.0 / (ratio.mean() + 1e-5)

    def validation_losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The adversarial losses on held-out real data against the sampling generator
        (the EMA copy when EMA is on), and the discriminator's mean scores on each.

        A GAN has no likelihood to validate; what held-out data can show is the
        discriminator memorising its training set: its score on held-out real images
        falling towards its score on fakes while the training ``real_score`` stays high.
        Penalties that need gradients (R1, gradient penalty) are left out.
        """
        real = batch["x"]
        cond = batch.get("y") if self.conditional else None
        z = torch.randn(len(real), self.cfg.latent_dim, device=real.device)
        fake = self.component(Generator)(z, cond)
        real_logits = self.discriminator(real, cond)
        fake_logits = self.discriminator(fake, cond)
        return {
            "d_loss": discriminator_loss(self.cfg.loss, real_logits, fake_logits),
            "g_loss": generator_loss(self.cfg.loss, fake_logits),
            "real_score": real_logits.mean(),
            "fake_score": fake_logits.mean(),
        }

    # -- sampling with the moving average -----------------------------------------------

    def component(self, interface: type) -> nn.Module | None:
        """The EMA generator stands in for the trained one when EMA is on."""
        part = super().component(interface)
        if part is self.generator and self.ema is not None:
            return self.ema.module
        return part

    def after_optimizer_step(self, player: str | None) -> None:
        """Average the generator after each of its optimizer steps."""
        if player == "generator" and self.ema is not None:
            self.ema.update(self.generator)
