"""``digits``: the 8x8 handwritten digits (1,797 images, labels 0-9) scikit-learn bundles,
shipped as ``digits.npz`` so the core needs neither scikit-learn nor the network
(``scripts/make_digits_npz.py`` wrote it; ``tests/test_data.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from torch import Tensor

from genloom.data.base import InMemoryDataset
from genloom.data.info import DataInfo


class Digits(InMemoryDataset):
    """Grey 1x8x8 images scaled to [-1, 1], with their digit as the class label."""

    @dataclass
    class Config:
        pass

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            kind="image", shape=(1, 8, 8), num_classes=10, class_names=[str(i) for i in range(10)]
        )

    def load_arrays(self) -> tuple[Tensor, Tensor]:
        images, labels = load_digit_arrays()
        x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0 * 2.0 - 1.0
        return x, torch.tensor(labels, dtype=torch.long)


def load_digit_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The raw arrays: images ``(1797, 8, 8)`` uint8 with values 0-16, labels ``(1797,)``
    uint8 with values 0-9, in scikit-learn's order."""
    with resources.files("genloom.data").joinpath("digits.npz").open("rb") as f, np.load(f) as npz:
        return npz["images"], npz["labels"]
