"""``GenerativeModel``: the LightningModule every genloom model extends.

A model owns its components (``Encoder``, ``Generator``, ``Denoiser`` ...) and states
its objective as ``losses(batch) -> {"loss": ..., **parts}``. The core owns the loop:
one optimizer with automatic optimization, or several "players" (a GAN's generator
and discriminator) with manual optimization, per-player step ratios, gradient clipping
and accumulation, and optimizer toggling that is safe under DDP. No plugin writes a
training loop, so none breaks when Lightning changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch import Tensor, nn

from genloom.data.info import DataInfo
from genloom.interfaces import Samples


@dataclass
class OptimizerGroup:
    """One player of a multi-player model: its parameters and how often it steps.

    ``every_n_steps=5`` steps this player on every fifth batch; ``lr`` overrides the
    config's learning rate for this player (``optim.groups.<name>.lr`` overrides both).
    """

    name: str
    params: Iterable[nn.Parameter] | nn.Module
    every_n_steps: int = 1
    lr: float | None = None

    def parameters(self) -> list[nn.Parameter]:
        ps = self.params.parameters() if isinstance(self.params, nn.Module) else self.params
        return [p for p in ps if p.requires_grad]


class GenerativeModel(L.LightningModule):
    """Base class of every model: components, an objective, capabilities, a sampler.

    Subclasses build their components in ``__init__(cfg, info)`` (``cfg`` is the
    resolved ``model`` config section, ``info`` the :class:`DataInfo`) and implement
    :meth:`losses`. Capabilities are class attributes that samplers, metrics and the
    CLI read to decide what applies.
    """

    #: "exact" (flows, autoregressive), "bound" (VAE ELBO), or "none" (GAN)
    likelihood: ClassVar[Literal["exact", "bound", "none"]] = "none"
    #: True when samples come from a latent prior through a one-shot Generator
    has_latent_space: ClassVar[bool] = False
    #: the sampler ``genloom sample`` uses when none is named
    default_sampler: ClassVar[str] = "prior"

    def __init__(self, cfg: Any = None, info: DataInfo | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.info = info
        #: the run's ``optim`` section, set by the training code; None uses Adam(1e-3)
        self.optim_cfg: Any = None
        self._groups_cache: list[OptimizerGroup] | None = None

    # -- what subclasses provide ------------------------------------------------------

    @property
    def conditional(self) -> bool:
        """Whether the model takes a condition (class labels) at sampling time."""
        return bool(getattr(self.cfg, "conditional", False)) if self.cfg is not None else False

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        """The objective on one batch: ``{"loss": scalar, **parts to log}``.

        Multi-player models receive ``player`` (an :class:`OptimizerGroup` name) and
        return that player's loss; single-player models get ``player=None``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement losses(batch)")

    def optimizer_groups(self) -> list[OptimizerGroup] | None:
        """Players for multi-player training, in stepping order; None for one optimizer."""
        return None

    def component(self, interface: type) -> nn.Module | None:
        """The sub-module implementing ``interface`` (used by samplers), or None."""
        if isinstance(self, interface):
            return self
        for module in self.children():
            if isinstance(module, interface):
                return module
        return None

    # -- sampling ---------------------------------------------------------------------

    def sample(
        self,
        n: int,
        *,
        sampler: str | None = None,
        cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> Samples:
        """Draw ``n`` samples with a registered sampler (the model's default if None).

        Runs under ``torch.no_grad`` unless the sampler declares ``needs_grad``."""
        from genloom.sampling import draw

        return draw(self, n, sampler=sampler, cond=cond, generator=generator, **options)

    # -- the loop (owned by the core) -------------------------------------------------

    def _groups(self) -> list[OptimizerGroup] | None:
        if self._groups_cache is None:
            self._groups_cache = self.optimizer_groups() or []
        return self._groups_cache or None

    @property
    def automatic_optimization(self) -> bool:  # type: ignore[override]
        return self._groups() is None

    @automatic_optimization.setter
    def automatic_optimization(self, value: bool) -> None:  # Lightning may assign it
        pass

    def _log_parts(self, prefix: str, parts: dict[str, Tensor], batch_size: int) -> None:
        on_step = prefix.startswith("train")
        for key, value in parts.items():
            self.log(
                f"{prefix}/{key}",
                value.detach() if isinstance(value, Tensor) else value,
                on_step=on_step,
                on_epoch=not on_step,
                prog_bar=key == "loss",
                batch_size=batch_size,
            )

    def _logging_step(self) -> bool:
        """Whether this batch's values reach the loggers.

        Lightning writes training values only every ``log_every_n_steps``; calling
        ``self.log`` on the other steps costs time (a noticeable share of a small model's
        step on CPU) for values nobody sees.
        """
        trainer = self._trainer
        if trainer is None:
            return True
        loop = getattr(trainer.fit_loop, "epoch_loop", None)
        stepped = getattr(loop, "_batches_that_stepped", None)
        if stepped is None:
            return True
        return stepped == 0 or (stepped + 1) % max(1, trainer.log_every_n_steps) == 0

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        groups = self._groups()
        size = len(batch["x"])
        log = self._logging_step()
        if groups is None:
            parts = self.losses(batch)
            if log:
                self._log_parts("train", parts, size)
            return parts["loss"]
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        schedulers = self.lr_schedulers()
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        optim = self.optim_cfg
        accumulate = max(1, int(getattr(optim, "accumulate", 1) or 1))
        clip = float(getattr(optim, "gradient_clip", 0.0) or 0.0)
        step = self.trainer.fit_loop.total_batch_idx
        for i, group in enumerate(groups):
            if step % group.every_n_steps:
                continue
            opt = optimizers[i]
            self.toggle_optimizer(opt)
            parts = self.losses(batch, player=group.name)
            self.manual_backward(parts["loss"] / accumulate)
            if (step // group.every_n_steps + 1) % accumulate == 0:
                if clip > 0:
                    self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
                opt.step()
                opt.zero_grad(set_to_none=True)
                if schedulers and schedulers[0] is not None:
                    schedulers[i].step()
            self.untoggle_optimizer(opt)
            if log:
                self._log_parts(f"train/{group.name}", parts, size)
        return None

    def validation_losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Losses logged on the validation split; multi-player models may override."""
        if self._groups() is None:
            return self.losses(batch)
        return {}

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        parts = self.validation_losses(batch)
        if parts:
            self._log_parts("val", parts, len(batch["x"]))

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        parts = self.validation_losses(batch)
        if parts:
            self._log_parts("test", parts, len(batch["x"]))

    def configure_optimizers(self) -> Any:
        from genloom.optim import build_optimizers

        groups = self._groups()
        if groups is None:
            groups = [OptimizerGroup("model", self)]
        return build_optimizers(self.optim_cfg, groups, self._total_steps())

    def _total_steps(self) -> int:
        try:
            total = self.trainer.estimated_stepping_batches
        except Exception:
            return 1
        return int(total) if total and math.isfinite(total) else 1

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from genloom.checkpoints import genloom_metadata

        checkpoint["genloom"] = genloom_metadata(self)
