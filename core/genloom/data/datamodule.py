"""The LightningDataModule that feeds any dataset component to the training loop."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch.utils.data import DataLoader, Dataset

from genloom.data.base import GenDataset, identity_collate
from genloom.data.info import DataInfo


class GenDataModule(L.LightningDataModule):
    """Deterministic train/val/test splits of one dataset component, batched."""

    def __init__(self, dataset: GenDataset, cfg: Any) -> None:
        super().__init__()
        self.dataset = dataset
        self.cfg = cfg
        self._splits: dict[str, Dataset] | None = None

    @property
    def info(self) -> DataInfo:
        return self.dataset.info

    def split(self, name: str) -> Dataset:
        if self._splits is None:
            self._splits = self.dataset.splits(
                self.cfg.val_fraction, self.cfg.test_fraction, self.cfg.split_seed
            )
        return self._splits[name]

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        ds = self.split(name)
        return DataLoader(
            ds,
            batch_size=self.cfg.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and len(ds) > self.cfg.batch_size,
            collate_fn=identity_collate,
            num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
