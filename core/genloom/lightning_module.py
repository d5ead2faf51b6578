"""``TrainingModule``: the one LightningModule, wrapped around a plain GenerativeModel.

Everything Lightning-specific about training lives here (one optimizer, or several
players with manual optimization; validation logging; ``configure_optimizers``; checkpoint
metadata), so models and plugins never see a Trainer. The model is the attribute
``model``: checkpoint keys carry the prefix ``model.`` (format 2), and
:meth:`TrainingModule.on_load_checkpoint` adds it to format-1 checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor

from genloom.checkpoints import PREFIX, checkpoint_format, genloom_metadata
from genloom.errors import DivergenceError
from genloom.model import FitContext, GenerativeModel, OptimizerGroup


class TrainingModule(L.LightningModule):
    """Trains ``model`` (a :class:`GenerativeModel`) with Lightning; see the module doc."""

    def __init__(self, model: GenerativeModel) -> None:
        super().__init__()
        self.model = model
        self.automatic_optimization = model._groups() is None
        self._totals: dict[str, dict[str, Tensor]] = {}  # split totals of val/test runs
        self._unlogged: dict[str, Tensor] = {}  # this step's values, for the loggers
        #: steps skipped for a non-finite loss (``optim.nonfinite=skip``)
        self.skipped_steps = 0
        #: the config's ``trainer.max_steps`` in batches, set when several players step
        self.max_batches: int | None = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    # -- logging ----------------------------------------------------------------------

    def _log_step(self, prefix: str, parts: dict[str, Tensor]) -> None:
        """Hand this step's values to the trainer's metrics now and to the loggers at the
        batch's end, past ``self.log``: Lightning recomputes every value logged with it on
        every later batch of the epoch, about a fifth of a small model's step."""
        connector = getattr(self._trainer, "_logger_connector", None)
        if connector is None:  # no trainer: nowhere to log, as self.log would find
            return
        values = {f"{prefix}/{k}": v.detach() if isinstance(v, Tensor) else torch.tensor(float(v))
                  for k, v in parts.items()}
        connector.callback_metrics.update(values)
        shown = {f"{prefix}/{k}" for k in self.model.progress_bar_keys}
        connector.progress_bar_metrics.update({k: float(v) for k, v in values.items() if k in shown})
        self._unlogged.update(values)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Write the step's values on Lightning's logging steps, as ``self.log`` would have."""
        if not self._unlogged:
            return
        trainer = self.trainer
        if self.automatic_optimization and trainer.fit_loop._should_accumulate():
            return  # Lightning logs an accumulated step's last micro-batch
        connector = trainer._logger_connector
        if connector.should_update_logs or trainer.fast_dev_run:
            connector.log_metrics(dict(self._unlogged))
        self._unlogged.clear()

    def _logging_step(self) -> bool:
        """Whether this batch's values reach the loggers (every ``log_every_n_steps``):
        ``self.log`` on other steps costs a small model's step time for nothing."""
        trainer = self._trainer
        if trainer is None:
            return True
        loop = getattr(trainer.fit_loop, "epoch_loop", None)
        stepped = getattr(loop, "_batches_that_stepped", None)
        if stepped is None:
            return True
        return stepped == 0 or (stepped + 1) % max(1, trainer.log_every_n_steps) == 0

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """A dict of tensors (what genloom's datasets yield) moves in one comprehension:
        Lightning's general walk over collections costs a small model's step a few percent."""
        if type(batch) is dict and all(isinstance(v, Tensor) for v in batch.values()):
            blocking = device.type in ("cpu", "mps")  # as Lightning's own move
            return {k: v.to(device, non_blocking=not blocking) for k, v in batch.items()}
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # -- training ---------------------------------------------------------------------

    def on_train_start(self) -> None:
        # here rather than in on_fit_start: Lightning restores a resumed run's step
        # count between the two, and the training loader exists by now
        fit = FitContext(self.trainer.global_step, self.device, self._train_loader)
        self.model.on_fit_start(fit)
        self._seed_rank()

    def _seed_rank(self) -> None:
        """Give every DDP process its own training noise: rank ``r`` reseeds the global
        generators with ``seed + r``; rank 0 keeps ``seed_everything``'s, so one process
        trains as before (weights start equal: DDP broadcasts rank 0's)."""
        rank = int(getattr(self.trainer, "global_rank", 0) or 0)
        if rank == 0:
            return
        import random

        import numpy as np

        seed = int(getattr(self.model.run_cfg, "seed", 0) or 0) + rank
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    def _train_loader(self) -> Any:
        trainer = self.trainer
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None:
            return datamodule.train_dataloader()
        return trainer.train_dataloader if trainer.train_dataloader is not None else []

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        groups = self.model._groups()
        log = self._logging_step()
        if groups is None:
            parts = self.model.losses(batch)
            if not self._finite(parts, None):
                return None  # optim.nonfinite=skip: Lightning skips this batch's step
            if log:
                self._log_step("train", parts)
            return parts["loss"]
        self._manual_step(batch, groups, log)
        return None

    def _finite(self, parts: dict[str, Tensor], player: str | None) -> bool:
        """Whether this step's loss is finite on every process (checked before backward,
        agreed by one all-reduce); if not, stop with one line or skip (``optim.nonfinite``)."""
        loss = parts["loss"].detach()
        bad = (~torch.isfinite(loss)).any().float()
        if self.trainer.world_size > 1:
            bad = self.trainer.strategy.reduce(bad, reduce_op="sum")
        if not bool(bad > 0):
            return True
        optim = self.model.optim_cfg
        if getattr(optim, "nonfinite", "stop") == "skip":
            self.skipped_steps += 1
            return False
        terms = [f"{k}={float(v.detach().float().mean()):g}" for k, v in parts.items()
                 if isinstance(v, Tensor) and not bool(torch.isfinite(v.detach()).all())
                 ] or ["loss (on another process)"]
        who = "" if player is None else f" of player '{player}'"
        raise DivergenceError(
            f"training diverged at step {self.trainer.global_step}{who}: non-finite "
            f"{', '.join(terms)}; the run stopped and its last good checkpoint is kept (lower "
            "optim.lr, set optim.gradient_clip, or optim.nonfinite=skip to skip such steps)"
        )

    def _manual_step(self, batch: dict[str, Tensor], groups: list[OptimizerGroup], log: bool) -> None:
        """One batch of multi-player training: each due player backpropagates its own
        loss with the others' parameters frozen, and steps every ``accumulate`` times."""
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        schedulers = self.lr_schedulers()
        schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
        from genloom.optim import stepping

        accumulate, clip = stepping(self.model.optim_cfg)
        step = self.trainer.fit_loop.total_batch_idx
        for i, group in enumerate(groups):
            if step % group.every_n_steps:
                continue
            opt = optimizers[i]
            self.toggle_optimizer(opt)
            parts = self.model.losses(batch, player=group.name)
            if not self._finite(parts, group.name):
                self.untoggle_optimizer(opt)
                continue
            self.manual_backward(parts["loss"] / accumulate)
            if (step // group.every_n_steps + 1) % accumulate == 0:
                if clip > 0:
                    self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
                opt.step()
                opt.zero_grad(set_to_none=True)
                if schedulers and schedulers[0] is not None:
                    schedulers[i].step()
                self.model.after_optimizer_step(group.name)
            self.untoggle_optimizer(opt)
            if log:
                self._log_step(f"train/{group.name}", parts)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any,
                       optimizer_closure: Any = None) -> None:
        """Lightning's step (automatic optimization: once per real step), then the model's hook."""
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        self.model.after_optimizer_step(None)

    def configure_optimizers(self) -> Any:
        from genloom.optim import build_optimizers

        groups = self.model._groups()
        if groups is None:
            groups = [OptimizerGroup("model", self.model)]
        return build_optimizers(self.model.optim_cfg, groups, self._total_steps())

    def _total_steps(self) -> int:
        """Training batches in the whole run (``build_optimizers`` turns them into each
        player's steps). Lightning's estimate counts optimizer steps, so it is multiplied
        back by ``accumulate``, or, for several players under ``max_steps``, replaced by
        ``max_batches``."""
        trainer = self.trainer
        try:
            total = trainer.estimated_stepping_batches
        except Exception:
            return 1
        if self.automatic_optimization:
            total *= max(1, int(trainer.accumulate_grad_batches))
        elif self.max_batches:
            epochs = trainer.max_epochs
            by_epochs = math.inf if epochs is None or epochs < 0 else trainer.num_training_batches * epochs
            total = min(self.max_batches, by_epochs)
        if not total or not math.isfinite(total):
            return 1
        return int(total)

    # -- validation and test ------------------------------------------------------------

    def _start(self, prefix: str) -> None:
        self._totals[prefix] = {}

    def _accumulate(self, prefix: str, batch: dict[str, Tensor]) -> None:
        """Add this batch's weighted losses and sums to the split totals, on the device."""
        totals = self._totals.setdefault(prefix, {})
        size = len(batch["x"])
        for key, value in self.model.validation_losses(batch).items():
            value = _scalar(value)
            pair = torch.stack([value * size, torch.full_like(value, float(size))])
            name = f"mean:{key}"
            totals[name] = totals[name] + pair if name in totals else pair
        for key, value in self.model.validation_sums(batch).items():
            value = _scalar(value)
            name = f"sum:{key}"
            totals[name] = totals[name] + value if name in totals else value

    def _finish(self, prefix: str) -> None:
        """Log the split's averages and exact metrics as ``<prefix>/<key>``, all totals
        summed across DDP processes in one all-reduce."""
        totals = self._totals.pop(prefix, {})
        if not totals:
            return
        names = sorted(totals)  # the same order on every process
        flat = torch.cat([totals[n].reshape(-1).to(self.device) for n in names])
        reduced = self.trainer.strategy.reduce(flat, reduce_op="sum").tolist()
        values: dict[str, float] = {}
        sums: dict[str, float] = {}
        for name in names:
            kind, key = name.split(":", 1)
            if kind == "mean":
                total, count = reduced.pop(0), reduced.pop(0)
                if count > 0:
                    values[key] = total / count
            else:
                sums[key] = reduced.pop(0)
        if sums:
            values.update(self.model.validation_metrics(sums))
        shown = self.model.progress_bar_keys
        for key, value in values.items():
            # equal on every process already; sync_dist keeps Lightning's DDP advice quiet
            self.log(f"{prefix}/{key}", float(value), on_step=False, on_epoch=True,
                     prog_bar=key in shown, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        self._start("val")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._accumulate("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._finish("val")

    def on_test_epoch_start(self) -> None:
        self._start("test")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._accumulate("test", batch)

    def on_test_epoch_end(self) -> None:
        self._finish("test")

    # -- checkpoints --------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["genloom"] = genloom_metadata(self.model)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resume from a format-1 checkpoint: its keys are the model's own, unprefixed."""
        if checkpoint_format(checkpoint) < 2:
            checkpoint["state_dict"] = {PREFIX + k: v for k, v in checkpoint["state_dict"].items()}


def _scalar(value: Tensor | float) -> Tensor:
    """A detached 0-d tensor for summing: float64 (exact totals), float32 on MPS (no float64)."""
    t = value.detach() if isinstance(value, Tensor) else torch.as_tensor(float(value))
    dtype = torch.float32 if t.device.type == "mps" else torch.float64
    return t.to(dtype).reshape(())
