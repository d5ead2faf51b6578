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
import tempfile
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Replace ``path`` with ``data`` in one step (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


class RunCSVLogger(CSVLogger):
    """``metrics.csv`` in the run folder, appended to on ``--resume``, never deleted."""

    def __init__(self, run_dir: str | Path, *, resume: bool) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._resume = resume

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(self.log_dir, self._resume)
        return self._experiment
