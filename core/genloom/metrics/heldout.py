"""What sample-based metrics compare: held-out data and as many seeded model samples.

Conditional models are sampled with the held-out labels, so both sets have the same
class balance. The same model, data and seed give the same samples.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError


def all_examples(dataset: Any) -> dict[str, Tensor]:
    """Every example of a split as one batch (``x`` and, when labelled, ``y``)."""
    indices = list(range(len(dataset)))
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(indices)
    items = [dataset[i] for i in indices]
    return {k: torch.stack([item[k] for item in items]) for k in items[0]}


def heldout_and_samples(model: Any, datamodule: Any, split: str = "test", metric: str = "") -> tuple[Tensor, Tensor]:
    """``(real, fake)``, both flattened to ``(n, features)`` floats, ``n`` = split size."""
    if model.info.kind not in ("image", "points"):
        raise ConfigError(
            f"metric {metric} compares images or points; this model makes {model.info.kind}"
        )
    real = all_examples(datamodule.split(split))
    n = len(real["x"])
    cond = real.get("y") if model.conditional else None
    generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
    fake = model.sample(n, cond=cond, generator=generator).data
    return real["x"].flatten(1).double(), fake.flatten(1).double()
