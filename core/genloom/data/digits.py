"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, labels 0-9)."""

from __future__ import annotations

from dataclasses import dataclass

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
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0 * 2.0 - 1.0
        return x, torch.tensor(bunch.target, dtype=torch.long)
