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
