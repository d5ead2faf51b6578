"""Provenance: a generation record on every sample file genloom writes.

A small JSON object saying where samples came from (versions, model, checkpoint SHA-256,
seed, sampler and options, condition, time, ``"generated_by": "genloom"``), stored by
:meth:`genloom.kinds.SampleKind.write`. The core only writes records; reading them back
(``genloom inspect``, ``reproduce``) is genloom-eval's, which treats them as untrusted.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genloom import __version__
from genloom.errors import GenloomError

#: the PNG text chunk's key, the ABC comment's tag and the sidecar's suffix
KEY = "genloom"
SIDECAR_SUFFIX = ".genloom.json"
ABC_PREFIX = "% genloom: "
#: the largest record a file may hold (bytes of JSON); larger ones are refused
MAX_RECORD_BYTES = 64 * 1024


# -- making records ---------------------------------------------------------------------


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_file(path: str | Path) -> Path:
    """The file ``genloom.load(path)`` reads the weights from (``.ckpt``, a run's ``last.ckpt``,
    an export's ``model.safetensors``)."""
    from genloom.checkpoints import WEIGHTS, is_export

    p = Path(path)
    if is_export(p):
        return p / WEIGHTS
    if p.is_dir():
        return p / "checkpoints" / "last.ckpt" if (p / "checkpoints").is_dir() else p / "last.ckpt"
    return p


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data (tensors and other objects as lists or strings)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # tensors, numpy arrays and scalars
        return json_safe(value.tolist())
    return str(value)


def generation_record(
    model: Any, *, checkpoint: str | Path | None, n: int, seed: int, sampler: str | None,
    options: dict[str, Any] | None = None, cond: list[int] | None = None, source: str = "sample",
    **extra: Any,
) -> dict[str, Any]:
    """The record of ``n`` samples drawn from ``model`` (loaded from ``checkpoint``, hashed
    as :func:`checkpoint_file`): ``cond`` the class labels given, the prompt in ``options``,
    ``source`` what wrote the file (``sample``, ``train``, ``serve``).
    """
    from genloom.plugins import get_plugin_host

    options = dict(options or {})
    run_cfg = getattr(model, "run_cfg", None)
    try:
        model_name = str(run_cfg.model.name)
    except Exception:
        model_name = type(model).__name__
    ckpt_path = checkpoint_file(checkpoint) if checkpoint is not None else None
    record = {
        "generated_by": KEY,
        "ai_generated": True,
        "genloom_version": __version__,
        "plugins": get_plugin_host().versions(),
        "model": model_name,
        "kind": getattr(getattr(model, "info", None), "kind", None),
        "checkpoint": str(checkpoint) if checkpoint is not None else None,
        "checkpoint_sha256": file_sha256(ckpt_path) if ckpt_path is not None and ckpt_path.is_file() else None,
        "seed": int(seed),
        "sampler": sampler,
        "options": options,
        "cond": list(cond) if cond is not None else None,
        "prompt": options.get("prompt"),
        "n": int(n),
        "source": source,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    return json_safe(record)


def dumps(record: dict[str, Any]) -> str:
    """The record as one line of ASCII JSON (fits a PNG tEXt chunk and an ABC comment)."""
    return json.dumps(record, ensure_ascii=True, sort_keys=False, separators=(", ", ": "))


def png_info(record: dict[str, Any]) -> Any:
    """A Pillow ``PngInfo`` holding ``record`` as the text chunk ``genloom`` (for ``Image.save``)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(KEY, dumps(record))
    return info


def add_png_record(path: str | Path, record: dict[str, Any]) -> None:
    """Insert ``record`` as a ``genloom`` text chunk right after the PNG header of ``path``."""
    import struct
    import zlib

    path = Path(path)
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise GenloomError(f"'{path}' is not a PNG file; cannot embed the generation record")
    end_of_header = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    body = KEY.encode() + b"\0" + dumps(record).encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    path.write_bytes(data[:end_of_header] + chunk + data[end_of_header:])


def sidecar_of(path: str | Path) -> Path:
    """``FILE.genloom.json`` beside ``FILE``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


#: names that moved to genloom-eval's reader; removed here in genloom 0.3
_MOVED = ("RecordError", "MAX_DEPTH", "parse_record", "read_record", "sample_content",
          "same_content", "MAX_REPRODUCE_N", "reproduce_file")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from genloom.moved import moved_name

        return moved_name(name, "genloom_eval.provenance", "genloom-eval", where="genloom.provenance")
    raise AttributeError(f"module 'genloom.provenance' has no attribute '{name}'")
