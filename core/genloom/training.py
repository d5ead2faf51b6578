"""Build a Lightning Trainer from a run config and fit: the loop every model shares.

One run writes one directory: ``config.yaml`` (the resolved config), ``checkpoints/``
(``last.ckpt`` and periodic ones), ``metrics.csv`` and ``samples/epoch-NNN.png``.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, TQDMProgressBar
from omegaconf import DictConfig, OmegaConf

from genloom.build import build_dataset, build_model, with_run_config
from genloom.checkpoints import load_weights, read_weights
from genloom.data.base import UsesSavedTokenizer, adopt_saved_tokenizer
from genloom.data.datamodule import GenDataModule
from genloom.data.items import GivenData, first_item
from genloom.errors import CheckpointError, ConfigError, GenloomError, PluginError, first_line
from genloom.lightning_module import TrainingModule
from genloom.kinds import default_suffix, save_samples
from genloom.objects import build_loggers, build_objects
from genloom.run_files import (
    AtomicCheckpointIO, RunCSVLogger, RunLock, RunModelCheckpoint, check_finite,
    remove_stale_temp_files, write_atomic,
)

RUN_DIR_ENV = "GENLOOM_RUN_DIR"  # lets DDP worker processes find rank 0's run directory

QUIET_WARNINGS = (
    r".*LeafSpec.*",  # lightning's _pytree on torch 2.13
    r".*does not have many workers.*",  # in-memory batches need none
    r".*log_every_n_steps.*",  # small datasets have fewer batches than that
    r".*exists and is not empty.*",  # checkpoint and log folders of our own run dir
    # frozen parts (latent diffusion's autoencoder) stay in eval mode on purpose
    r".*module\(s\) in eval mode at the start of training.*",
    r".*`training_step` returned `None`.*",  # optim.nonfinite=skip skips a step on purpose
    # a mid-epoch last.ckpt: the resumed epoch draws its remaining batches from a fresh shuffle
    r".*resuming from a checkpoint that ended before the epoch ended.*",
    # a GAN's periodic checkpoint holds the state after its step, as last.ckpt does
    r".*manual optimization and every_n_train_steps.*",
    # TrainingModule's fast dict move; a datamodule's own transfer_batch_to_device still wins
    r".*overridden `transfer_batch_to_device` in `LightningModule` but.*",
)


def quiet_lightning() -> None:
    """Silence Lightning's tips, banner lines and known-harmless warnings."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


class OneProgressBar(TQDMProgressBar):
    """Lightning's bar for training only; validation results join its postfix."""

    #: seconds between redraws: redrawing every batch costs a small CPU model much of its step
    min_interval = 0.2

    def __init__(self) -> None:
        super().__init__()
        self._drawn = 0.0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        batch_idx = kwargs.get("batch_idx", args[-1] if args else 0)
        last = batch_idx + 1 >= (self.train_progress_bar.total or float("inf"))
        if now - self._drawn >= self.min_interval or last:
            self._drawn = now
            super().on_train_batch_end(trainer, pl_module, *args, **kwargs)

    def _no_second_bar(self, *args: Any, **kwargs: Any) -> None:
        pass

    on_validation_start = on_validation_batch_start = on_validation_batch_end = _no_second_bar

    def on_validation_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self._train_progress_bar is not None and trainer.state.fn == "fit":
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))


class WriteConfig(Callback):
    """On ``--resume``, write ``config.yaml`` only once a step has succeeded, so a refused
    or at once diverging resume leaves the old one."""

    def __init__(self, path: Path, cfg: DictConfig) -> None:
        self.path, self.cfg = path, cfg
        self.written = False

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if not self.written:
            self.written = True
            if trainer.is_global_zero:
                write_atomic(self.path, OmegaConf.to_yaml(self.cfg))


class SampleGrids(Callback):
    """Write ``samples/epoch-NNN.png`` every N epochs, from the same seed each time; a
    :class:`LastCheckpoint` calls it after saving (``chained``), so a failing grid cannot
    lose the epoch's ``last.ckpt``."""

    def __init__(self, directory: Path, cfg: Any) -> None:
        self.directory, self.cfg = directory, cfg
        self.last: Path | None = None
        self._last_epoch = -1
        self.chained = False  # set when a LastCheckpoint calls epoch_end/train_end

    def _write(self, trainer: L.Trainer, module: Any, epoch: int) -> None:
        model = module.model  # the GenerativeModel inside the TrainingModule
        if not trainer.is_global_zero or self.cfg.n <= 0:
            return
        if not (self.cfg.sampler or model.default_sampler):
            return  # a model that does not generate on its own (a two-stage model's first stage)
        cond = None
        if model.conditional and model.info.num_classes:
            cond = torch.arange(self.cfg.n) % model.info.num_classes
        generator = torch.Generator().manual_seed(self.cfg.seed)
        samples = model.sample(self.cfg.n, sampler=self.cfg.sampler, cond=cond, generator=generator,
                               **dict(self.cfg.options))
        path = self.directory / f"epoch-{epoch:03d}{default_suffix(samples.kind)}"
        from genloom.provenance import generation_record  # the checkpoint it was drawn from: last.ckpt

        record = generation_record(
            model, checkpoint=(self.directory.parent / "checkpoints" / "last.ckpt").resolve(),
            n=self.cfg.n, seed=self.cfg.seed, sampler=self.cfg.sampler,
            options=dict(self.cfg.options), source="train", epoch=epoch,
            cond=None if cond is None else list(range(model.info.num_classes)), step=trainer.global_step,
        )
        self.last = save_samples(samples, path, model.info, record)
        self._last_epoch = epoch
        log_sample_file(trainer.loggers, self.last, trainer.global_step)

    def epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        every = self.cfg.every_n_epochs
        if every > 0 and (trainer.current_epoch + 1) % every == 0:
            self._write(trainer, pl_module, trainer.current_epoch + 1)

    def train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self.cfg.every_n_epochs > 0 and self._last_epoch != trainer.current_epoch:
            self._write(trainer, pl_module, trainer.current_epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not self.chained:
            self.epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if not self.chained:
            self.train_end(trainer, pl_module)


TEXT_LIMIT = 64_000  # characters of a text sample file shown in TensorBoard


def _as_text(path: Path) -> str | None:
    """The file's text when it is UTF-8 without NUL bytes, else None (MIDI, ``.npy``)."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def log_sample_file(loggers: list[Any], path: Path, step: int) -> None:
    """Show a sample file (an image, or text) in the run's TensorBoard loggers under the
    tag ``samples``, beside the loss curves; binary formats are not shown."""
    from lightning.pytorch.loggers import TensorBoardLogger

    boards = [lg.experiment for lg in loggers if isinstance(lg, TensorBoardLogger)]
    if not boards:
        return
    if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        for board in boards:
            board.add_image("samples", pixels, global_step=step, dataformats="HWC")
    elif (text := _as_text(path)) is not None:
        shown = "\n".join("    " + line for line in text[:TEXT_LIMIT].splitlines())  # verbatim in Markdown
        for board in boards:
            board.add_text("samples", shown, global_step=step)
    else:
        return
    for board in boards:
        board.flush()


class GenloomInterrupt(KeyboardInterrupt):
    """Training was stopped by the user; the message says how to resume."""


@dataclass
class TrainResult:
    """Where a finished run put its outputs."""

    run_dir: Path
    checkpoint: Path
    samples: Path | None
    #: the trained GenerativeModel (a plain module; ``trainer.lightning_module.model``)
    model: Any
    trainer: L.Trainer


def launcher_rank() -> int | None:
    """This process's rank when an outside launcher (``torchrun``, SLURM) started every
    process; None when genloom runs alone or Lightning starts the others."""
    if os.environ.get(RUN_DIR_ENV):
        return None
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ:
        return int(os.environ["RANK"])  # torchrun / torch.distributed.run
    if int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_PROCID" in os.environ:
        return int(os.environ["SLURM_PROCID"])
    return None


def resolve_run_dir(cfg: DictConfig, resume: bool, default_name: str) -> Path:
    """The run directory: explicit, resumed, or a fresh ``runs/<name>[-N]``; one holding
    a run is reused only on ``resume``. Under an outside launcher the config must name it
    (processes cannot agree otherwise), and only rank 0 checks it."""
    inherited = os.environ.get(RUN_DIR_ENV)
    if inherited:
        return Path(inherited)
    rank = launcher_rank()
    if rank is not None and not cfg.output_dir:
        raise ConfigError("this process was started by torchrun or SLURM with the others: set "
                          "output_dir=... so every process writes the same run directory")
    if rank:  # not rank 0: rank 0 checks and locks the directory
        return Path(cfg.output_dir)
    run_dir = Path(cfg.output_dir) if cfg.output_dir else Path("runs") / default_name
    has_run = (run_dir / "checkpoints" / "last.ckpt").exists()
    if resume:
        if not has_run:
            hint = "" if cfg.output_dir else " (set output_dir=... to the run to resume)"
            raise GenloomError(f"nothing to resume: '{run_dir}/checkpoints/last.ckpt' does not exist{hint}")
        return run_dir
    if cfg.output_dir:
        if has_run:
            raise GenloomError(f"run directory '{run_dir}' already holds a run; pass --resume to continue it "
                               "or set output_dir=... to start a new one")
        return run_dir
    base, n = run_dir, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


class LastCheckpoint(Checkpoint):
    """``last.ckpt``, written when ``min_seconds`` have passed (at an epoch's or, above 0,
    a batch's end; the first epoch always), with every periodic checkpoint, and at the end.

    So tiny epochs do not spend their time saving, a kill loses at most ``min_seconds``
    however long an epoch is, and ``last.ckpt`` is never older than a periodic file. A
    ``Checkpoint`` so Lightning runs it after the periodic one of the same epoch (which it
    then records, so a resume prunes it under ``checkpoint.keep``); grids (``then``) follow.
    """

    def __init__(self, path: Path, min_seconds: float, periodic: Any = None) -> None:
        self.path, self.min_seconds, self.periodic = path, min_seconds, periodic
        self.then: SampleGrids | None = None
        self._saved_at: float | None = None
        self._saved_step = -1
        self._started_at = time.monotonic()

    def _save(self, trainer: L.Trainer, pl_module: Any) -> None:
        check_finite(trainer, pl_module, self.path)
        trainer.save_checkpoint(str(self.path))  # every rank calls it; rank 0 writes
        self._saved_at, self._saved_step = time.monotonic(), trainer.global_step

    def _periodic_is_newer(self, trainer: L.Trainer) -> bool:
        """A periodic checkpoint, not ``last.ckpt``, was written at this step (same on every rank)."""
        saved = getattr(self.periodic, "last_saved_step", None)
        return saved == trainer.global_step and self._saved_step != trainer.global_step

    def _time_is_up(self) -> bool:
        return time.monotonic() - (self._saved_at or self._started_at) >= self.min_seconds

    def on_train_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        self._started_at = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        if trainer.sanity_checking:
            return
        loop = trainer.fit_loop.epoch_loop
        if loop._should_accumulate() or loop.batch_progress.is_last_batch:
            return  # mid-accumulation state is not saved; the epoch's end saves the last batch
        due = False
        if self.min_seconds > 0:
            due = bool(trainer.strategy.broadcast(self._time_is_up(), src=0))  # see on_train_epoch_end
        if due or self._periodic_is_newer(trainer):
            self._save(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        due = self._saved_at is None or time.monotonic() - self._saved_at >= self.min_seconds
        # every process must agree: save_checkpoint holds a barrier, and clocks differ
        due = bool(trainer.strategy.broadcast(due, src=0))
        if (due or self._periodic_is_newer(trainer)) and not trainer.sanity_checking:
            self._save(trainer, pl_module)
        if self.then is not None:
            self.then.epoch_end(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if self._saved_step != trainer.global_step:
            self._save(trainer, pl_module)
        if self.then is not None:
            self.then.train_end(trainer, pl_module)


class ForgetLostWork(Callback):
    """On ``--resume`` from step S, drop the ``metrics.csv`` rows and periodic checkpoints
    from after S: work a kill interrupted, which the run does again (rows would be logged
    twice; the files never pruned by ``keep``). Rows match by the logging step (a GAN
    steps twice a batch), known once the epoch loop has reset, at the first batch."""

    STEP = re.compile(r"step=(\d+)")

    def __init__(self, ckpt_dir: Path) -> None:
        self.ckpt_dir = ckpt_dir
        self._rows_done = False

    def on_train_batch_start(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
        if self._rows_done:
            return
        self._rows_done = True
        if not trainer.is_global_zero:
            return
        step = trainer.fit_loop.epoch_loop._batches_that_stepped  # the step the next row gets
        for logger in trainer.loggers:
            if isinstance(logger, RunCSVLogger):
                logger.forget_after(step, epoch=trainer.current_epoch)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        step = trainer.global_step
        for path in self.ckpt_dir.glob("*.ckpt"):
            found = self.STEP.search(path.stem)
            if path.name != "last.ckpt" and found and int(found.group(1)) > step:
                path.unlink(missing_ok=True)


def checkpoint_callbacks(cfg: Any, ckpt_dir: Path, resume: bool = False) -> list[Callback]:
    """``last.ckpt`` (what --resume needs) plus periodic checkpoints: two callbacks, since
    one ModelCheckpoint saves ``last.ckpt`` only with a periodic one."""
    if cfg.every_n_epochs <= 0 and cfg.every_n_steps <= 0:
        return [LastCheckpoint(ckpt_dir / "last.ckpt", cfg.last_every_seconds)]
    keep = cfg.keep
    periodic = RunModelCheckpoint(
        dirpath=str(ckpt_dir),
        filename="epoch={epoch:03d}-step={step}",
        auto_insert_metric_name=False,
        save_top_k=keep if keep >= 0 else -1,
        monitor="step" if keep > 0 else None,  # keep the newest ``keep``
        mode="max",
        # every_n_steps, when set, replaces every_n_epochs (Lightning accepts only one)
        every_n_epochs=None if cfg.every_n_steps > 0 else cfg.every_n_epochs,
        every_n_train_steps=cfg.every_n_steps if cfg.every_n_steps > 0 else None,
        resume=resume,
    )
    last = LastCheckpoint(ckpt_dir / "last.ckpt", cfg.last_every_seconds, periodic)
    return [periodic, last]  # in this order: see LastCheckpoint


def _trainer_kwargs(
    cfg: DictConfig, module: TrainingModule, run_dir: Path, callbacks: list, resume: bool = False
) -> dict[str, Any]:
    from genloom.plugins import get_plugin_host

    loggers: list[Any] = [RunCSVLogger(run_dir, resume=resume)]
    if importlib.util.find_spec("tensorboard") is not None:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=""))
    kwargs: dict[str, Any] = {
        "max_epochs": 10,
        "default_root_dir": str(run_dir),
        "logger": loggers,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 10,
    }
    from genloom.config import check_trainer_stepping
    from genloom.optim import optimizer_steps, stepping

    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    check_trainer_stepping(trainer_cfg)
    accumulate, clip = stepping(cfg.optim)
    if module.automatic_optimization:  # Lightning steps; several players: the module does
        if clip > 0:
            kwargs["gradient_clip_val"] = clip
        kwargs["accumulate_grad_batches"] = accumulate
    kwargs.update(trainer_cfg)
    groups = module.model._groups()
    max_steps = trainer_cfg.get("max_steps")
    if groups and isinstance(max_steps, int) and max_steps > 0:
        # trainer.max_steps counts batches; Lightning counts every player's steps
        module.max_batches = max_steps
        kwargs["max_steps"] = max(1, optimizer_steps(groups, max_steps, accumulate))
    if "logger" in trainer_cfg:  # true: the defaults; false: none; names or specs: added
        chosen = trainer_cfg["logger"]
        kwargs["logger"] = chosen if chosen is False else loggers + build_loggers(chosen, str(run_dir))
    if "profiler" in trainer_cfg:
        kwargs["profiler"] = build_objects(trainer_cfg["profiler"], "trainer.profiler")
    if not module.automatic_optimization:
        kwargs["strategy"] = _find_unused_parameters(kwargs.get("strategy"))
    extra = trainer_cfg.get("callbacks") or []
    extra = build_objects(extra if isinstance(extra, list) else [extra], "trainer.callbacks")
    kwargs["callbacks"] = callbacks + extra
    if trainer_cfg.get("enable_checkpointing") is False:  # no checkpoints at all, so no --resume
        kwargs["callbacks"] = [c for c in kwargs["callbacks"] if not isinstance(c, Checkpoint)]
    if _atomic_io_fits(kwargs.get("strategy"), kwargs.get("plugins")):
        plugins = kwargs.get("plugins") or []
        kwargs["plugins"] = [*(plugins if isinstance(plugins, list) else [plugins]), AtomicCheckpointIO()]
    called = get_plugin_host().call_each("genloom_trainer_kwargs", config=cfg, kwargs=kwargs)
    if not isinstance(kwargs.get("callbacks"), list):  # a plugin replaced the list it was handed
        raise PluginError(f"genloom_trainer_kwargs of plugin(s) {', '.join(p for p, _ in called)} left "
                          f"kwargs['callbacks'] a {type(kwargs.get('callbacks')).__name__}, not a list")
    if kwargs.get("enable_progress_bar", True) and not any(
        isinstance(c, TQDMProgressBar) for c in kwargs["callbacks"]
    ):
        kwargs["callbacks"].append(OneProgressBar())
    return kwargs


def _atomic_io_fits(strategy: Any, plugins: Any) -> bool:
    """One ordinary checkpoint file (not FSDP/DeepSpeed shards) and no CheckpointIO given."""
    from lightning.fabric.plugins import CheckpointIO

    plain = strategy is None or (isinstance(strategy, str) and (
        strategy in ("auto", "single_device") or strategy.startswith("ddp")))
    items = plugins if isinstance(plugins, list) else [plugins]
    return plain and not any(isinstance(p, CheckpointIO) for p in items)


def _find_unused_parameters(strategy: Any) -> Any:
    """The DDP variant that tolerates parameters without gradients: alternating players
    leave the idle one's without, which plain DDP calls an error."""
    if strategy in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook"):
        return f"{strategy}_find_unused_parameters_true"
    return strategy if strategy is not None else "auto"


def load_initial_weights(model: Any, path: str) -> None:
    """Start from another run's weights: ``init_from=`` a .ckpt, a run or an export."""
    _, state_dict = read_weights(path)
    load_weights(model, state_dict, path, "init_from: checkpoint")


#: ``optim`` keys a ``--resume`` may change: no optimizer or scheduler state holds them
#: (what the divergence message advises: ``optim.gradient_clip``, ``optim.nonfinite=skip``)
RESUME_MAY_CHANGE = ("gradient_clip", "nonfinite")


def check_resume(cfg: DictConfig, last: Path) -> None:
    """Refuse, before anything is touched, a resume with an unreadable ``last.ckpt`` or
    changed ``optim`` settings that the checkpoint's optimizer state would silently
    override (only :data:`RESUME_MAY_CHANGE` keys may change)."""
    from genloom.checkpoints import read_checkpoint

    ckpt = read_checkpoint(last)
    saved = (ckpt.get("genloom") or {}).get("config") or {}
    counter = _damaged_counter(ckpt.get("loops"))
    if counter is not None:
        raise CheckpointError(f"cannot resume from '{last}': its training state is damaged (its counter "
                              f"{counter}, not a whole number); start a new run from its weights with "
                              f"init_from={last.parent.parent}; nothing was changed")
    before = saved.get("optim")
    now = OmegaConf.to_container(cfg.optim, resolve=True)
    if isinstance(before, dict):
        # keys the checkpoint has: one written before an option existed has not changed it;
        # keys that live in no saved state (clipping, the non-finite policy) may change
        changed = sorted(k for k in before if k not in RESUME_MAY_CHANGE and before[k] != now.get(k))
    else:
        changed = []
    if changed:
        key = changed[0]
        raise ConfigError(f"optim.{key} cannot change on --resume (was {before.get(key)!r}, now "
                          f"{now.get(key)!r}): the optimizer state comes back from the checkpoint; resume "
                          "with the run's optim settings, or start a new run from its weights with "
                          f"init_from={last.parent.parent}")


def _damaged_counter(node: Any, name: str = "loops", counting: bool = False) -> str | None:
    """``"NAME is a TYPE"`` for the first loop counter Lightning restores that is no int."""
    if isinstance(node, dict):
        for key, value in node.items():
            found = _damaged_counter(value, f"{name}.{key}", counting or "progress" in str(key)
                                     or key == "_batches_that_stepped")
            if found:
                return found
        return None
    if counting and not isinstance(node, int):
        return f"{ascii(name)[1:-1][:120]} is a {type(node).__name__}"
    return None


def _guard_stop_iteration(callback: Any, plugin: str) -> Any:
    """Make a ``StopIteration`` from ``callback``'s hooks a PluginError: Lightning's loops
    read one as "data exhausted", so a plugin's bug ended the run with exit 0."""
    import functools

    names = [n for n in dir(type(callback))  # not Callback's own no-ops: wrapping them costs every step
             if (n.startswith("on_") or n in ("setup", "teardown", "state_dict", "load_state_dict"))
             and getattr(type(callback), n, None) is not getattr(Callback, n, None)]
    for name in names:
        method = getattr(callback, name, None)
        if not callable(method):
            continue

        def guarded(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            try:
                return _method(*args, **kwargs)
            except StopIteration as exc:
                raise PluginError(f"plugin '{plugin}' failed in its callback "
                                  f"{type(callback).__name__}.{_name}: StopIteration: {exc}") from None

        try:
            setattr(callback, name, functools.wraps(method)(guarded))
        except (AttributeError, TypeError):  # slots or a read-only attribute: left as it is
            pass
    return callback


def _plugin_callback_in(tb: Any, owners: dict[int, str]) -> tuple[str, str] | None:
    """``(plugin, "Class.hook")`` when a plugin's callback is on the traceback ``tb``."""
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if obj is not None and id(obj) in owners:
            return owners[id(obj)], f"{type(obj).__name__}.{tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return None


def config_for_model(model: Any, overrides: Sequence[str] = (), given_data: bool = False) -> DictConfig:
    """The run config of a ``GenerativeModel`` built in Python: its ``run_cfg``, else
    ``load_config``'s defaults with the model's ``cfg`` (and ``data.name=given`` for given
    data), ``overrides`` on top. An unregistered class is registered as ``local:<name>``
    so its checkpoints load again."""
    from genloom.config import load_config
    from genloom.plugins import get_registry, register

    cls = type(model)
    target = f"{cls.__module__}:{cls.__qualname__}"
    model_name = next((c.full_name for c in get_registry().components("model") if c.target == target), None)
    if model_name is None:
        model_name = register("model", cls.__name__.lower(), cls)
    if model.run_cfg is not None:
        base = OmegaConf.to_container(model.run_cfg)
    else:
        section = model.cfg if model.cfg is None or isinstance(model.cfg, DictConfig) else OmegaConf.structured(model.cfg)
        base = {"model": OmegaConf.to_container(section) if section is not None else {}}
        if given_data:
            base["data"] = {"name": "given"}
    base["model"]["name"] = model_name
    return load_config(None, overrides, base=base)


def adopt_model(model: Any, cfg: DictConfig, info: Any) -> Any:
    """A model built in Python, checked against the data and given what ``build_model`` sets."""
    if model.info is None:
        model.info = info
    elif tuple(model.info.shape) != tuple(info.shape) or model.info.kind != info.kind:
        raise ConfigError(f"genloom.train: the model was built for {model.info.kind} data of shape "
                          f"{tuple(model.info.shape)}, the data is {info.kind} of shape {tuple(info.shape)}; "
                          "build the model for this data")
    return with_run_config(model, cfg)


def train(
    cfg: DictConfig | Any, *, resume: bool = False, name: str | None = None,
    echo: Callable[[str], None] | None = print, data: Any = None, val_data: Any = None,
    overrides: Sequence[str] = (), callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Fit the model a resolved run config describes, or a ``GenerativeModel`` built in
    Python (its run config: the defaults of ``load_config`` with ``overrides``, see
    :func:`config_for_model`); return where outputs went.

    ``data``, when given, replaces the config's dataset: a per-item torch ``Dataset``,
    an ``IterableDataset`` or a ``DataLoader``, read through ``data.columns``
    (docs/data.md); ``val_data`` (the same forms) is its validation data, else a
    per-item dataset gives ``data.val_fraction`` of its items to validation. ``callbacks``
    are Lightning callbacks of the caller (``genloom bench --until`` watches a metric
    with one), added after the plugins' and the run's own."""
    given_model = None
    if isinstance(cfg, torch.nn.Module):
        given_model, cfg = cfg, config_for_model(cfg, overrides, given_data=data is not None)
    elif overrides:
        raise ConfigError("genloom.train: overrides are for a model object; apply them with "
                          "load_config(path, overrides) to a config")
    quiet_lightning()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if data is None and val_data is not None:
        raise ConfigError("genloom.train: val_data needs data (the training data it belongs with)")
    dataset = build_dataset(cfg) if data is None else GivenData(cfg.data, data, val_data)
    if cfg.init_from and isinstance(dataset, UsesSavedTokenizer):
        # token data: encode with the init checkpoint's tokenizer, not a refit one
        meta, _ = read_weights(cfg.init_from)
        adopt_saved_tokenizer(dataset, (meta.get("info") or {}).get("tokenizer"))
    datamodule = GenDataModule(dataset, cfg.data)
    datamodule.require_examples("train")  # before a run folder exists, not mid-fit
    model = build_model(cfg, dataset.info) if given_model is None else adopt_model(given_model, cfg, dataset.info)
    if cfg.init_from and not resume:
        load_initial_weights(model, cfg.init_from)
    default_name = name or f"{cfg.model.name.split(':')[-1]}-{cfg.data.name.split(':')[-1]}"
    run_dir = resolve_run_dir(cfg, resume, default_name)
    if resume:
        check_resume(cfg, run_dir / "checkpoints" / "last.ckpt")
    if run_dir.exists() and not run_dir.is_dir():
        raise GenloomError(f"output_dir '{run_dir}' is a file; name a folder for the run")
    created = not run_dir.exists()
    lock = RunLock(run_dir)
    try:
        if RUN_DIR_ENV not in os.environ and not launcher_rank():  # other ranks run under rank 0's lock
            lock.acquire()
            for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
                remove_stale_temp_files(folder)  # left by a process killed mid-write
    except OSError as exc:  # a read-only or full disk, a parent that is a file
        raise GenloomError(_cannot_write(exc, run_dir)) from None
    try:
        return _fit(cfg, model, datamodule, run_dir, resume=resume, echo=echo, extra=callbacks,
                    validate=first_item(datamodule.split("val"), datamodule.columns) is not None)
    finally:
        lock.release()
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()  # nothing was written: leave no empty run behind


#: what an OSError from writing a run's files means: the disk, not genloom
WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR,
                errno.EISDIR}


def _cannot_write(exc: OSError, run_dir: Path) -> str:
    where = exc.filename or run_dir
    return f"cannot write the run's files in '{run_dir}' ('{where}': {exc.strerror or exc}); " \
        "free space, or choose a writable output_dir"


class _Started(Callback):
    """Training started: Lightning restored the checkpoint by then."""

    def __init__(self) -> None:
        self.started = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.started = True


def _paths_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.is_dir() else set()


def _remove_new_files(run_dir: Path, before: set[Path]) -> None:
    """Undo a refused resume: loggers open files (TensorBoard's) before the checkpoint is read."""
    for path in sorted(_paths_under(run_dir) - before, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif path.name != RunLock.NAME:
            path.unlink(missing_ok=True)


def _fit(
    cfg: DictConfig, model: Any, datamodule: Any, run_dir: Path, *, resume: bool,
    echo: Callable[[str], None] | None, extra: Sequence[Any] = (), validate: bool = True,
) -> TrainResult:
    """Build the Trainer around ``model`` and fit it into ``run_dir`` (which is locked)."""
    from genloom.plugins import get_plugin_host, is_plugin_failure, user_interrupts

    ckpt_dir = run_dir / "checkpoints"
    callbacks: list[Any] = checkpoint_callbacks(cfg.checkpoint, ckpt_dir, resume=resume)
    grids = SampleGrids(run_dir / "samples", cfg.sample)
    callbacks.append(grids)
    owners: dict[int, str] = {}  # id(callback) -> the plugin that gave it
    for plugin, given in get_plugin_host().call_each("genloom_callbacks", config=cfg):
        for callback in given or []:
            owners[id(callback)] = plugin
            callbacks.append(_guard_stop_iteration(callback, plugin))
    callbacks.extend(extra)
    module = TrainingModule(model)
    started = _Started()
    callbacks.append(started)
    if resume:  # config.yaml is rewritten only once a resumed step has succeeded
        callbacks.append(WriteConfig(run_dir / "config.yaml", cfg))
        callbacks.append(ForgetLostWork(ckpt_dir))
    kwargs = _trainer_kwargs(cfg, module, run_dir, callbacks, resume=resume)
    if not validate:  # said once, instead of Lightning's warning about a zero-length loader
        kwargs["limit_val_batches"] = 0
        if echo and not launcher_rank():
            given = isinstance(datamodule.dataset, GivenData)
            echo("no validation: the data has no held-out examples (" + (
                "give genloom.train(..., val_data=...), or per-item data and data.val_fraction > 0)"
                if given else "raise data.val_fraction)"))
    last_callback = next((c for c in kwargs["callbacks"] if isinstance(c, LastCheckpoint)), None)
    if last_callback is not None:  # grids after last.ckpt: see SampleGrids
        last_callback.then, grids.chained = grids, True
    try:
        trainer = L.Trainer(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"trainer: {exc}") from None
    except Exception as exc:  # lightning's MisconfigurationException
        raise ConfigError(f"trainer: {type(exc).__name__}: {exc}") from None
    if trainer.is_global_zero:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            if not resume:
                write_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(cfg))
        except OSError as exc:
            raise GenloomError(_cannot_write(exc, run_dir)) from None
    last = ckpt_dir / "last.ckpt"
    before = _paths_under(run_dir) if resume else set()
    os.environ[RUN_DIR_ENV] = str(run_dir)
    interrupts = user_interrupts()  # a KeyboardInterrupt without a Ctrl-C is a plugin's
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume else None, weights_only=True)
    except Exception as exc:
        culprit = _plugin_callback_in(exc.__traceback__, owners)
        if culprit is not None:
            raise PluginError(f"plugin '{culprit[0]}' failed in its callback {culprit[1]}: "
                              f"{type(exc).__name__}: {exc}") from exc
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            raise GenloomError(_cannot_write(exc, run_dir)) from None
        if resume and not started.started and isinstance(
            exc, (KeyError, TypeError, ValueError, IndexError, AttributeError)
        ):  # Lightning failed to restore the loop, optimizer or scheduler state
            _remove_new_files(run_dir, before)
            raise CheckpointError(
                f"cannot resume from '{last}': its training state is damaged ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); start a new run "
                f"from its weights with init_from={run_dir}; nothing was changed"
            ) from None
        if resume and type(exc).__name__ == "MisconfigurationException":
            _remove_new_files(run_dir, before)
            raise ConfigError(f"cannot resume '{run_dir}': {first_line(exc)} Raise trainer.max_epochs (or "
                              "trainer.max_steps) above what the run has done; nothing was changed") from None
        if not isinstance(exc, RuntimeError):
            raise
        if resume and "state_dict" in str(exc):
            _remove_new_files(run_dir, before)
            raise CheckpointError(f"cannot resume from '{last}': it does not fit this config's model "
                                  f"({first_line(exc)}); resume with the config the run was trained "
                                  "with") from None
        raise
    except BaseException as exc:  # a plugin's own BaseException, or Ctrl-C
        # Lightning turns Ctrl-C into sys.exit(1), or lets it through mid-callback
        cause = exc.__context__ if isinstance(exc.__context__, KeyboardInterrupt) else exc
        culprit = _plugin_callback_in(cause.__traceback__, owners)
        if culprit is not None and is_plugin_failure(cause, interrupts):
            raise PluginError(f"plugin '{culprit[0]}' failed in its callback {culprit[1]}: "
                              f"{type(cause).__name__}: {cause}") from None
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, SystemExit) and not trainer.interrupted:
            raise
        raise GenloomInterrupt(f"interrupted; continue with: genloom train ... output_dir={run_dir} "
                               "--resume") from None
    finally:
        os.environ.pop(RUN_DIR_ENV, None)
    if echo and trainer.is_global_zero:
        where = f"run: {run_dir}" + (f"  checkpoint: {last}" if last.is_file() else "  (no checkpoint)")
        if grids.last is not None:
            where += f"  samples: {grids.last}"
        echo(where)
    return TrainResult(run_dir, last, grids.last, model, trainer)
