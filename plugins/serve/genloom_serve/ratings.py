"""Human ratings: records appended to a JSONL file, one whole line per write.

Each record is encoded first and written with one ``os.write`` of the whole line to a
file opened with ``O_APPEND``, then fsynced, under a lock: a crash loses at most the
record being written, never an earlier one, and a reader skips a torn last line.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (created, with its folder, if needed)."""
    line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _lock:
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            # a torn line left by an earlier crash: start on a fresh line
            size = os.fstat(fd).st_size
            if size:
                with open(p, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            written = os.write(fd, line)
            while written < len(line):  # a short write (a full disk, a signal)
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def pairs_path(ratings: str | Path) -> Path:
    """Where LM pairwise choices are also written as align preference pairs:
    ``ratings.jsonl`` -> ``ratings.pairs.jsonl``."""
    p = Path(ratings)
    return p.with_name(p.stem + ".pairs.jsonl")
