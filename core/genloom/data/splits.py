"""``DataSplits``: the deterministic train/val/test splits of a dataset and their loaders.

Plain torch, so evaluation reads held-out data without Lightning; training extends it
(:class:`~genloom.data.datamodule.GenDataModule`), so both see the same split.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.data.items import ItemCollate, Shard, fields, first_item


def all_examples(dataset: Any) -> dict[str, Tensor]:
    """Every example of a split as one batch (``x`` and, when labelled, ``y``): what the
    metrics of genloom-eval and the text library compare samples with."""
    indices = list(range(len(dataset)))
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(indices)
    items = [fields(dataset[i]) for i in indices]
    return {k: torch.stack([item[k] for item in items]) for k in items[0]}


class DataSplits:
    """Deterministic train/val/test splits of one dataset component, batched, as the run's
    ``data`` section says."""

    def __init__(self, dataset: GenDataset, cfg: Any) -> None:
        self.dataset = dataset
        self.cfg = cfg
        self._splits: dict[str, Dataset] | None = None
        #: ``data.columns`` of genloom.train(data=...): its items' keys (a component maps its own)
        self.columns = getattr(dataset, "columns", None)

    @property
    def info(self) -> DataInfo:
        return self.dataset.info

    def split(self, name: str) -> Dataset:
        """The ``train``, ``val`` or ``test`` split (computed once, then cached)."""
        if self._splits is None:
            self._splits = self.dataset.splits(
                self.cfg.val_fraction, self.cfg.test_fraction, self.cfg.split_seed
            )
        return self._splits[name]

    def require_examples(self, name: str = "train") -> None:
        """A one-line ConfigError when split ``name`` is empty or its first item cannot be
        mapped (a missing column, not a tensor)."""
        if first_item(self.split(name), self.columns) is None:
            from genloom.errors import ConfigError

            hint = " or a smaller data.block_size" if "block_size" in self.cfg else ""
            raise ConfigError(f"data: the {name} split of '{self.cfg.get('name', 'the dataset')}' is empty; "
                              f"use more data{hint}, or smaller data.val_fraction/test_fraction")

    def _loader(self, name: str, shuffle: bool, processes: int = 1) -> DataLoader:
        """The split's loader; training drops its last partial batch unless that would
        leave a process none (a shard of ``len / processes`` examples, DDP)."""
        if shuffle:
            self.require_examples(name)
        ds = self.split(name)
        columns = self.columns
        if isinstance(ds, DataLoader):
            return self._adopt(ds, columns)
        if isinstance(ds, IterableDataset) or not hasattr(ds, "__len__"):
            return DataLoader(Shard(ds), batch_size=self.cfg.batch_size, collate_fn=ItemCollate(columns),
                              num_workers=self.cfg.num_workers, persistent_workers=self.cfg.num_workers > 0)
        shard = -(-len(ds) // max(1, processes))  # DistributedSampler pads shards to equal size
        return DataLoader(
            ds,
            batch_size=self.cfg.batch_size,
            shuffle=shuffle,
            drop_last=shuffle and shard > self.cfg.batch_size,
            collate_fn=ItemCollate(columns),  # batches from __getitems__ pass through
            num_workers=self.cfg.num_workers,
            persistent_workers=self.cfg.num_workers > 0,
        )

    @staticmethod
    def _adopt(loader: DataLoader, columns: Any) -> DataLoader:
        """A user's DataLoader mapped to genloom's fields, an iterable sharded (:class:`Shard`);
        Lightning gives a map-style dataset its DistributedSampler under DDP."""
        iterable = isinstance(loader.dataset, IterableDataset)
        kwargs: dict[str, Any] = dict(
            num_workers=loader.num_workers, collate_fn=ItemCollate(columns, inner=loader.collate_fn),
            pin_memory=loader.pin_memory, worker_init_fn=loader.worker_init_fn,
            persistent_workers=loader.persistent_workers, generator=loader.generator)
        if iterable:
            kwargs.update(batch_size=loader.batch_size, drop_last=loader.drop_last)
        elif loader.batch_size is None:
            kwargs.update(batch_sampler=loader.batch_sampler)
        else:
            kwargs.update(batch_size=loader.batch_size, drop_last=loader.drop_last, sampler=loader.sampler)
        return DataLoader(Shard(loader.dataset) if iterable else loader.dataset, **kwargs)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches (the last partial batch dropped)."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in a fixed order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches in a fixed order."""
        return self._loader("test", shuffle=False)
