"""Rebuild a model from a saved, untrusted config without letting the config decide how
much memory that takes (docs/security.md).

The model is first built on the ``meta`` device and refused in one line when it would
hold far more numbers than its saved weights; the data description is bounded too,
since samplers allocate ``n`` samples of its shape.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genloom.errors import CheckpointError

#: numbers (parameters and buffers) a model may hold beyond twice what its weights hold:
#: room for buffers a state dict leaves out (noise schedules, caches), 256 MB of float32
SLACK = 64 * 2**20
#: the most numbers one sample of the saved data description may have (1 GB of float32)
MAX_SAMPLE_NUMEL = 2**28
MAX_CLASSES = 10**6
MAX_VOCAB = 10**7


def check_info(info: Any, path: str | Path) -> None:
    """Refuse a data description whose sizes no genloom dataset produces."""
    shape = tuple(info.shape)
    if not all(isinstance(d, int) and d > 0 for d in shape) or math.prod(shape) > MAX_SAMPLE_NUMEL:
        raise CheckpointError(
            f"'{path}': its data shape {list(shape)[:8]} is not a shape genloom samples "
            f"(positive sizes, at most {MAX_SAMPLE_NUMEL:,} numbers a sample); the file was edited "
            "or damaged"
        )
    for name, value, limit in (("num_classes", info.num_classes, MAX_CLASSES),
                               ("vocab_size", info.vocab_size, MAX_VOCAB)):
        if not isinstance(value, int) or not 0 <= value <= limit:
            raise CheckpointError(f"'{path}': its {name} {value!r} is out of range (0 to {limit:,}); "
                                  "the file was edited or damaged")


def numel(module: Any) -> int:
    return sum(t.numel() for t in (*module.parameters(), *module.buffers()))


def build_bounded(cfg: Any, info: Any, state_dict: dict[str, Any], path: str | Path) -> Any:
    """``build_model(cfg, info)`` once a meta-device build holds at most twice the numbers
    in ``state_dict`` (plus :data:`SLACK`), else a CheckpointError. A constructor that
    cannot run on meta is built directly, bounded by its Config's bounds."""
    import torch

    from genloom.build import build_model

    check_info(info, path)
    held = sum(t.numel() for t in state_dict.values() if isinstance(t, torch.Tensor))
    try:
        with torch.device("meta"):
            wanted = numel(build_model(cfg, info))
    except Exception:  # noqa: BLE001 - a constructor that needs real values: no estimate
        wanted = None
    if wanted is not None and wanted > 2 * held + SLACK:
        raise CheckpointError(
            f"'{path}': its config describes a model of {wanted:,} numbers but its weights hold "
            f"{held:,}; refusing to build it (the config was edited or does not belong to these "
            "weights)"
        )
    return build_model(cfg, info)


def read_json_object(file: Path, missing: str, limit: int = 2**20) -> dict[str, Any]:
    """The JSON object in an untrusted config ``file`` of at most ``limit`` bytes, or a
    one-line :class:`CheckpointError` (``missing``: what should have written the file)."""
    if not file.is_file():
        raise CheckpointError(f"'{file.parent}' has no {file.name}; {missing}")
    if file.stat().st_size > limit:
        raise CheckpointError(f"'{file}' is over {limit:,} bytes; no config is that large")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"'{file}' is not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"'{file}' is not a JSON object")
    return data
