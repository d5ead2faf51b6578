"""The LightningDataModule that feeds any dataset component to the training loop.

Only training uses it; everything else reads data through the plain
:class:`~genloom.data.splits.DataSplits` it extends, which imports no Lightning.
"""

from __future__ import annotations

from typing import Any

import lightning as L

from genloom.data.base import GenDataset
from genloom.data.splits import DataSplits


class GenDataModule(DataSplits, L.LightningDataModule):
    """:class:`DataSplits` as a ``LightningDataModule``: the same splits and loaders."""

    def __init__(self, dataset: GenDataset, cfg: Any) -> None:
        L.LightningDataModule.__init__(self)
        DataSplits.__init__(self, dataset, cfg)

    def train_dataloader(self) -> Any:
        """Shuffled training batches; every process gets at least one under DDP (a shard
        smaller than ``batch_size`` gives one smaller batch instead of none)."""
        trainer = getattr(self, "trainer", None)
        processes = int(getattr(trainer, "world_size", 1) or 1) if trainer is not None else 1
        return self._loader("train", shuffle=True, processes=processes)
