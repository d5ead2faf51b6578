"""``GenerativeModel``: the plain ``torch.nn.Module`` every genloom model extends.

A model owns its components and states its objective as ``losses(batch)``. It knows
nothing of Lightning, so sampling, evaluation and export skip Lightning's import cost;
training wraps it in :class:`genloom.lightning_module.TrainingModule`, and a model acts
during training only through the few lifecycle hooks below, never Lightning's, so no
plugin breaks when Lightning changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from genloom.data.info import DataInfo
from genloom.errors import GenloomError
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
        """The player's trainable parameters (those with ``requires_grad``)."""
        ps = self.params.parameters() if isinstance(self.params, nn.Module) else self.params
        return [p for p in ps if p.requires_grad]


def _to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` (a tensor, or dicts, lists and tuples of them) on ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


@dataclass
class FitContext:
    """What a model sees of a training run when it starts (:meth:`GenerativeModel.on_fit_start`):
    optimizer steps already taken (more than 0 when resuming), the parameters' device, and
    training batches through :meth:`train_batches`.
    """

    global_step: int
    device: torch.device
    loader: Callable[[], Iterable[Any]] = field(repr=False)

    def train_batches(self, limit: int | None = None) -> Iterator[dict[str, Tensor]]:
        """Up to ``limit`` training batches (all of one epoch if None), on ``device``."""
        if limit is not None and limit <= 0:
            return
        for i, batch in enumerate(self.loader()):
            yield _to_device(batch, self.device)
            if limit is not None and i + 1 >= limit:
                return


class GenerativeModel(nn.Module):
    """Base class of every model: components, an objective, capabilities, a sampler.

    Subclasses build their components in ``__init__(cfg, info)`` (``cfg`` is the
    resolved ``model`` config section, ``info`` the :class:`DataInfo`) and implement
    :meth:`losses`. Capabilities are class attributes that samplers, metrics and the
    CLI read to decide what applies.

    ``model(*args)`` (:meth:`forward`) runs the network the model's default sampler
    drives, so ``torch.export`` exports the model as that network:

    * with ``has_latent_space`` (a VAE, a GAN) its :class:`~genloom.Generator`:
      ``model(z, cond=None) -> data``;
    * otherwise a :class:`~genloom.Denoiser`: ``model(x_t, t, cond=None) -> prediction``;
    * otherwise an :class:`~genloom.AutoregressiveGenerator`:
      ``model(tokens, cond=None) -> logits`` of shape ``(n, t, vocab_size)``.

    The network is the one :meth:`component` returns (an EMA copy, when it returns one);
    a model without such a network overrides :meth:`forward`. A model takes part in
    training only through the hooks :meth:`on_fit_start`, :meth:`after_optimizer_step`,
    :meth:`validation_losses`, :meth:`validation_sums` and :meth:`validation_metrics`,
    which have no Lightning types in their signatures.
    """

    #: "exact" (flows, autoregressive), "bound" (VAE ELBO), or "none" (GAN)
    likelihood: ClassVar[Literal["exact", "bound", "none"]] = "none"
    #: True when samples come from a latent prior through a one-shot Generator
    has_latent_space: ClassVar[bool] = False
    #: the sampler ``genloom sample`` uses when none is named
    default_sampler: ClassVar[str | None] = "prior"
    #: names of loss parts and validation metrics shown on the training progress bar
    progress_bar_keys: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(self, cfg: Any = None, info: DataInfo | None = None) -> None:
        super().__init__()
        #: the resolved ``model`` config section (None for a model built by hand)
        self.cfg: Any = cfg
        #: what the data is (kind, shape, classes, tokenizer); None for a model built by hand
        self.info: DataInfo | None = info
        #: the run's ``optim`` section, set by the training code; None uses Adam(1e-3)
        self.optim_cfg: Any = None
        #: the whole resolved run config, set by ``build_model`` (and ``genloom.load``)
        self.run_cfg: Any = None
        #: names of the ``nn.Linear`` layers held in int8 (an export written with ``--quantize``)
        self.quantized_layers: list[str] = []
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
        """The sub-module implementing ``interface`` (used by samplers), or None: the model,
        else its first child, else the first nested one. Override it to choose an EMA copy."""
        if isinstance(self, interface):
            return self
        for module in self.children():
            if isinstance(module, interface):
                return module
        for module in self.modules():
            if module is not self and isinstance(module, interface):
                return module
        return None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the network the default sampler drives (see the class docstring)."""
        return self._forward_network()(*args, **kwargs)

    def _forward_network(self) -> nn.Module:
        from genloom.interfaces import AutoregressiveGenerator, Denoiser, Generator

        order = (Generator,) if self.has_latent_space else ()
        for interface in (*order, Denoiser, AutoregressiveGenerator):
            part = self.component(interface)
            if part is not None and part is not self:
                return part
        raise GenloomError(
            f"model {type(self).__name__} has no Generator, Denoiser or AutoregressiveGenerator "
            "for forward(); override forward() to say what the model computes"
        )

    # -- sampling ---------------------------------------------------------------------

    def sample(self, n: int, *, sampler: str | None = None, cond: Tensor | None = None,
               generator: torch.Generator | None = None, **options: Any) -> Samples:
        """Draw ``n`` samples with a registered sampler (the model's default if None)."""
        from genloom.sampling import draw

        return draw(self, n, sampler=sampler, cond=cond, generator=generator, **options)

    # -- lifecycle hooks (called by the training adapter) ------------------------------

    def on_fit_start(self, fit: FitContext) -> None:
        """Called once per training run before the first step, with a resumed run's weights
        already restored (latent diffusion measures its latent scale here). Does nothing by
        default."""

    def after_optimizer_step(self, player: str | None) -> None:
        """Called after every optimizer step: once per real step, not per accumulated
        micro-batch, and for a multi-player model once per step of ``player`` (an
        :class:`OptimizerGroup` name); ``None`` for single-optimizer models. Update an
        :class:`~genloom.EMA` here. Does nothing by default.
        """

    def _groups(self) -> list[OptimizerGroup] | None:
        if self._groups_cache is None:
            self._groups_cache = self.optimizer_groups() or []
        return self._groups_cache or None

    def validation_losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Losses of one validation batch, logged as ``val/<key>`` averaged over the split
        (``test/<key>`` in ``genloom evaluate``). Multi-player models log none by default."""
        if self._groups() is None:
            return self.losses(batch)
        return {}

    def validation_sums(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Additive scalar totals of one validation batch (the same keys every batch), summed
        over the split and DDP processes for :meth:`validation_metrics`. None by default."""
        return {}

    def validation_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """Metrics from the split totals of :meth:`validation_sums`, logged as
        ``val/<key>``. A key also returned by :meth:`validation_losses` replaces that
        batch average (the text library's ``LanguageModel`` and its exact ``val/bpc``, say). None by default.
        """
        return {}
