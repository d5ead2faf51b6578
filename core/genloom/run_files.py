"""Files a training run writes, written so that a crash, a kill or a resume loses nothing.

Every file is replaced atomically (a temporary file in the same folder, flushed to
disk, then renamed over the old one), so a reader or a later resume sees the old
content or the new, never half of one. ``metrics.csv`` keeps its history across
``--resume``: Lightning's CSV logger deletes the file whenever it opens a run folder
that has one, which lost every row written before a resume.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from genloom.atomic import write_atomic


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
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:  # called by __init__; Lightning deletes here
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if not self._resume:
            path.rename(free_name(path))  # a crashed run's rows, kept under another name
            return
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        self.metrics_keys = sorted(set(header))

    def save(self) -> None:
        if not self.metrics:
            return
        path = Path(self.metrics_file_path)
        rows: list[dict[str, Any]] = []
        if path.is_file():
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
                self.metrics_keys = sorted(set(self.metrics_keys) | set(reader.fieldnames or []))
        self.metrics_keys = sorted(set(self.metrics_keys).union(*self.metrics))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=self.metrics_keys)
        writer.writeheader()
        writer.writerows(rows)
        writer.writerows(self.metrics)
        write_atomic(path, out.getvalue())
        self.metrics = []


    def forget_after(self, step: int) -> int:
        """Drop rows logged after ``step`` (work a kill lost and a resume redoes); returns
        how many went. Rows without a step are kept."""
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return 0
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            rows = list(reader)
        kept = [r for r in rows if not _after(r.get("step"), step)]
        if len(kept) < len(rows):
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(kept)
            write_atomic(path, out.getvalue())
        return len(rows) - len(kept)


def _after(value: str | None, step: int) -> bool:
    try:
        return value not in (None, "") and float(value) > step
    except ValueError:
        return False


class RunCSVLogger(CSVLogger):
    """``metrics.csv`` in the run folder, appended to on ``--resume``, never deleted."""

    def __init__(self, run_dir: str | Path, *, resume: bool) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._resume = resume

    def forget_after(self, step: int) -> int:
        """Drop the rows logged after ``step`` (on rank 0; elsewhere nothing)."""
        return self.experiment.forget_after(step) or 0

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(self.log_dir, self._resume)
        return self._experiment


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`write_atomic` (``.NAME.*.tmp``) and sample
    writers (``.NAME.*.tmp.SUFFIX``) leave when their process is killed mid-write. Call it only while holding the run's lock: then no
    live writer owns them."""
    removed = []
    folder = Path(folder)
    for path in [*folder.glob(".*.tmp"), *folder.glob(".*.tmp.*")]:  # the second: sample files
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class RunLock:
    """``RUN/.genloom.lock``: one ``genloom train`` per run directory at a time.

    The file holds the owner's PID and host. A second run into the same directory is
    refused while that process lives; a lock left by a process that died (a SIGKILL,
    a power cut) is stale and taken over. Creation is atomic (``O_EXCL``), so two runs
    started together cannot both win.
    """

    NAME = ".genloom.lock"

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / self.NAME
        self.held = False

    def acquire(self) -> None:
        from genloom.errors import GenloomError

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._live_owner()
                if owner is not None:
                    raise GenloomError(
                        f"run directory '{self.path.parent}' is in use by another genloom train "
                        f"(PID {owner}); wait for it to finish or choose another output_dir"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {_host()}\n")
            self.held = True
            return
        raise GenloomError(f"could not lock run directory '{self.path.parent}'; try again")

    def _live_owner(self) -> int | None:
        """The PID holding the lock, if that process still runs on this host."""
        try:
            pid_text, _, host = self.path.read_text().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if host.strip() and host.strip() != _host():
            return pid  # another machine's run on a shared disk: cannot check, assume live
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _host() -> str:
    import socket

    return socket.gethostname()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written as every run file is: a temp file beside the target, fsync,
    rename. Lightning's own save stages the file in ``$TMPDIR`` and copies it across
    filesystems, which on a full disk truncated a good ``last.ckpt`` and left partial
    temp files behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        import torch

        if storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)  # raises: unsupported
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())
