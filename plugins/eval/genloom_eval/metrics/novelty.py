"""``novelty``: do samples copy the training set?

For each generated sample, the distance to its nearest training example; for each
held-out example, the same. A model that generalises puts its samples about as far
from the training set as new real data is (ratio near 1); one that memorises puts
them much closer (ratio near 0). Distances are Euclidean in data space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom_eval.metrics.heldout import all_examples, heldout_and_samples


def nearest_distances(queries: Tensor, reference: Tensor, chunk: int = 1024) -> Tensor:
    """Distance from each query row to its nearest reference row."""
    out = [torch.cdist(q, reference).min(dim=1).values for q in queries.split(chunk)]
    return torch.cat(out)


class Novelty:
    """Nearest-training-example distances of samples vs of held-out data."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        real, fake = heldout_and_samples(model, datamodule, metric="novelty")
        train = all_examples(datamodule.split("train"))["x"].flatten(1).double()
        to_train_fake = nearest_distances(fake, train)
        to_train_real = nearest_distances(real, train)
        return {
            "test/novelty_ratio": float(to_train_fake.mean() / to_train_real.mean().clamp_min(1e-12)),
            "test/sample_to_train": float(to_train_fake.mean()),
            "test/heldout_to_train": float(to_train_real.mean()),
        }
