"""Files a training run writes, so that a crash, a kill or a resume loses nothing.

Files are replaced atomically. ``metrics.csv`` keeps its history across ``--resume``
(Lightning's CSV logger deleted it): rows are appended and flushed, the file is rewritten
only when a column appears, and a row half-written by a kill is dropped on resume.
Appended rows reach the disk itself (``fsync``) at most every :data:`SYNC_SECONDS` and
when the run ends: a kill loses no written row (the kernel holds it), a power cut at
most the last few seconds', as with ``last.ckpt``; an ``fsync`` per save cost a small
model about a tenth of its step time.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from genloom.atomic import write_atomic

#: the longest time appended ``metrics.csv`` rows wait for an ``fsync``
SYNC_SECONDS = 10.0


def free_name(path: Path) -> Path:
    """``path`` with ``-2``, ``-3`` ... before its suffix: the first that does not exist."""
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1


class _KeepingWriter(ExperimentWriter):
    """Lightning's CSV experiment writer, minus the deleting: a resumed run appends to
    ``metrics.csv`` and a fresh run moves a stray one aside; every save is atomic."""

    def __init__(self, log_dir: str, resume: bool) -> None:
        self._resume = resume
        self._header: list[str] | None = None  # the columns of the file on disk, once known
        self._synced = time.monotonic()  # when appended rows last reached the disk
        self.sync_next = False  # fsync the next save whatever the time (the run's last)
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:  # called by __init__; Lightning deletes here
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if not self._resume:
            path.rename(free_name(path))  # a crashed run's rows, kept under another name
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):  # a kill in the middle of appending a row
            write_atomic(path, data[: data.rfind(b"\n") + 1])
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        self._header = header or None
        self.metrics_keys = sorted(set(header))

    def save(self) -> None:
        """Append the buffered rows; rewrite the whole file only for a new column."""
        if not self.metrics:
            return
        path = Path(self.metrics_file_path)
        if self._header is None and path.is_file():  # another writer made it: read its columns
            with path.open(newline="", encoding="utf-8") as f:
                self._header = next(csv.reader(f), []) or None
        keys = sorted(set(self.metrics_keys).union(self._header or []).union(*self.metrics))
        if self._header is not None and path.is_file() and set(keys) == set(self._header):
            out = io.StringIO()
            csv.DictWriter(out, fieldnames=self._header).writerows(self.metrics)
            sync = self.sync_next or time.monotonic() - self._synced >= SYNC_SECONDS
            _append(path, out.getvalue(), sync)
            if sync:
                self._synced, self.sync_next = time.monotonic(), False
        else:
            rows: list[dict[str, Any]] = []
            if path.is_file():
                with path.open(newline="", encoding="utf-8") as f:
                    rows = list(csv.DictReader(f))
            _rewrite(path, keys, [*rows, *self.metrics])
            self._header = keys
        self.metrics_keys = keys
        self.metrics = []

    def forget_after(self, step: int, epoch: int | None = None) -> int:
        """Drop rows logged after ``step`` (work a resume redoes), and with ``epoch`` those at
        ``step`` from that epoch on (the first batch after a checkpoint logs at its step);
        returns how many went."""
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return 0
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            rows = list(reader)
        kept = [r for r in rows if not (_number(r, "step") > step or (
            epoch is not None and _number(r, "step") == step and _number(r, "epoch") >= epoch))]
        if len(kept) < len(rows):
            _rewrite(path, fields, kept)
        return len(rows) - len(kept)


def _rewrite(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, out.getvalue())


def _append(path: Path, text: str, sync: bool) -> None:
    """Append ``text``, and ``fsync`` it if ``sync`` (a kill can cut only the last row,
    which a resume drops)."""
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def _number(row: dict[str, Any], key: str) -> float:
    """``row[key]`` as a number; NaN (false in every comparison) when empty or not one."""
    try:
        return float(row.get(key) or "nan")
    except ValueError:
        return math.nan


class RunCSVLogger(CSVLogger):
    """``metrics.csv`` in the run folder, appended to on ``--resume``, never deleted."""

    def __init__(self, run_dir: str | Path, *, resume: bool) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._resume = resume

    def forget_after(self, step: int, epoch: int | None = None) -> int:
        """Drop the rows logged after ``step`` (on rank 0; elsewhere nothing)."""
        return self.experiment.forget_after(step, epoch) or 0

    def finalize(self, status: str) -> None:
        """The run's last save reaches the disk (``fsync``) however recent the last one."""
        if self._experiment is not None:
            self._experiment.sync_next = True
        super().finalize(status)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(self.log_dir, self._resume)
        return self._experiment


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files of writers killed mid-write (``.NAME.*.tmp``, and
    ``.NAME.*.tmp.SUFFIX`` of sample files); only under the run's lock, so none is live."""
    removed = []
    folder = Path(folder)
    for path in [*folder.glob(".*.tmp"), *folder.glob(".*.tmp.*")]:  # the second: sample files
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class RunLock:
    """``RUN/.genloom.lock``: one ``genloom train`` per run directory at a time, by
    ``fcntl.flock`` (the kernel releases it when the process dies, however it dies); the
    file holds the owner's PID and host for the message refusing a second run."""

    NAME = ".genloom.lock"

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / self.NAME
        self.held = False
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        from genloom.errors import GenloomError

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                owner = self._owner()
                raise GenloomError(f"run directory '{self.path.parent}' is in use by another genloom train "
                                   f"(PID {owner}); wait for it to finish or choose another "
                                   "output_dir") from None
            except BaseException:
                os.close(fd)
                raise
            try:  # the file we locked may have been removed by its last owner's release
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {_host()}\n".encode())
            self._fd, self.held = fd, True
            return
        raise GenloomError(f"could not lock run directory '{self.path.parent}'; try again")

    def _owner(self) -> str:
        """The PID the holder wrote (it writes it right after locking: wait a moment)."""
        import time

        for _ in range(20):
            try:
                pid_text = self.path.read_text().split(" ", 1)[0].strip()
            except OSError:
                pid_text = ""
            if pid_text.isdigit():
                return pid_text
            time.sleep(0.05)
        return "unknown"

    def release(self) -> None:
        if self.held and self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still locked: see acquire's inode check
            os.close(self._fd)
            self._fd, self.held = None, False


def _host() -> str:
    import socket

    return socket.gethostname()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written atomically beside the target (Lightning's save, staged in
    ``$TMPDIR``, truncated a good ``last.ckpt`` on a full disk)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        import torch

        if storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)  # raises: unsupported
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())

    def remove_checkpoint(self, path: Any) -> None:
        """Remove one checkpoint file, never a folder (Lightning's would ``rm -r`` one)."""
        p = Path(path)
        if p.is_file() and not p.is_symlink():
            p.unlink()


def check_finite(trainer: Any, module: Any, path: Any) -> None:
    """A DivergenceError instead of saving non-finite weights: the file keeps the good ones."""
    import torch

    from genloom.errors import DivergenceError

    if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
        raise DivergenceError(
            f"training diverged: the weights are not finite at step {trainer.global_step}; "
            f"'{path}' keeps the last good ones (lower optim.lr or set optim.gradient_clip)"
        )


#: the names :class:`RunModelCheckpoint` gives its files (``-vN``: Lightning's same-name variant)
PERIODIC_NAME = re.compile(r"epoch=(\d+)-step=(\d+)(?:-v\d+)?\.ckpt")


class RunModelCheckpoint(ModelCheckpoint):
    """Lightning's periodic checkpoints, minus trusting the checkpoint it resumes from.

    Lightning restores its list of kept files from the checkpoint and later ``rm -r``s the
    overflow, so a ``last.ckpt`` someone sent could name any path. Here the list is rebuilt
    on ``--resume`` from this run's folder (periodic files up to the resumed step, ranked
    by step), and only a plain periodic file of that folder is ever removed.
    """

    def __init__(self, *args: Any, resume: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resume = resume
        self.last_saved_step = -1  # the global step of the newest file written by this run

    def _save_checkpoint(self, trainer: Any, filepath: str) -> None:
        """Lightning's save, refused for non-finite weights (as ``last.ckpt`` is)."""
        check_finite(trainer, trainer.lightning_module, Path(self.dirpath or ".") / "last.ckpt")
        super()._save_checkpoint(trainer, filepath)
        self.last_saved_step = trainer.global_step

    @property
    def state_key(self) -> str:
        # the key Lightning's own class had, so runs saved before keep resuming quietly;
        # built once: Lightning reads it for every hook it calls, and building it costs
        key = self.__dict__.get("_state_key")
        if key is None:
            key = self.__dict__["_state_key"] = super().state_key.replace(
                type(self).__qualname__, "ModelCheckpoint", 1)
        return key

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Read nothing from the checkpoint: see the class docstring."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        super().on_train_start(trainer, pl_module)
        if self._resume:  # the step resumed from is known only now
            self._rebuild(trainer.global_step)

    def _own_files(self) -> list[tuple[int, Path]]:
        folder = Path(self.dirpath or "")
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = PERIODIC_NAME.fullmatch(path.name)
            if match and path.is_file() and not path.is_symlink():
                found.append((int(match.group(2)), path))
        return sorted(found)

    def _rebuild(self, step: int) -> None:
        import torch

        kept = [(s, p) for s, p in self._own_files() if s <= step]
        self.best_k_models = {str(p): torch.tensor(float(s)) for s, p in kept} if self.monitor else {}
        if kept and self.monitor:
            (low, low_path), (high, high_path) = kept[0], kept[-1]
            self.kth_best_model_path, self.kth_value = str(low_path), torch.tensor(float(low))
            self.best_model_path, self.best_model_score = str(high_path), torch.tensor(float(high))

    def owns(self, filepath: Any) -> bool:
        """True for a plain file in this run's checkpoint folder with a periodic name."""
        text = str(filepath)
        if "://" in text or not self.dirpath:
            return False
        path = Path(text)
        real = Path(os.path.realpath(path))
        return (path.is_file() and not path.is_symlink() and real.parent == Path(os.path.realpath(self.dirpath))
                and PERIODIC_NAME.fullmatch(real.name) is not None)

    def _remove_checkpoint(self, trainer: Any, filepath: str) -> None:
        if self.owns(filepath):
            trainer.strategy.remove_checkpoint(filepath)
        elif os.path.lexists(filepath):
            warnings.warn(f"genloom kept '{filepath}': it is not a periodic checkpoint of this run")
