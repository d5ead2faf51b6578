"""Any torch data (per-item datasets, iterable datasets, DataLoaders) as genloom batches.

:func:`fields` maps an item or a collated batch to genloom's fields through
``data.columns``, :class:`ItemCollate` stacks items, and :class:`Shard` gives every DDP
process and loader worker a disjoint share of an iterable in equal counts (a rank with
one batch more would wait for the others forever).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from genloom.data.info import DataInfo
from genloom.errors import ConfigError

#: genloom field of each role a ``data.columns`` key may name
ROLES = {"x": "x", "image": "x", "text": "x", "y": "y", "label": "y"}


def fields(item: Any, columns: Mapping[str, str] | None = None) -> dict[str, Tensor]:
    """``{"x": ..., ["y": ...]}`` from one item or collated batch: a dict (read through
    ``columns``, role -> key), an ``(x, [y])`` tuple or a lone tensor."""
    if isinstance(item, Mapping):
        if columns:
            unknown = [role for role in columns if role not in ROLES]
            if unknown:
                raise ConfigError(f"data.columns: unknown role '{unknown[0]}'; roles: {', '.join(ROLES)}")
            keys = {ROLES[role]: key for role, key in columns.items()}
        else:  # the first of x/image/text and of y/label the item has
            keys = {}
            for role, name in ROLES.items():
                if name not in keys and role in item:
                    keys[name] = role
        if "x" not in keys:
            raise ConfigError(f"data: an item has keys {sorted(map(str, item))[:8]} but none of x/image/text; "
                              "map one with data.columns, e.g. data.columns={image: img}")
        missing = [k for k in keys.values() if k not in item]
        if missing:
            raise ConfigError(f"data.columns: the data has no column '{missing[0]}' (it has "
                              f"{sorted(map(str, item))[:8]}); name one of those")
        raw = {name: item[key] for name, key in keys.items()}
    elif isinstance(item, (tuple, list)) and 1 <= len(item) <= 2:
        raw = dict(zip(("x", "y"), item))
    else:
        raw = {"x": item}
    out = {}
    for name, value in raw.items():
        if not isinstance(value, Tensor):
            if type(value).__module__ == "numpy" or isinstance(value, (int, float, bool)):
                value = torch.as_tensor(value)
            else:
                raise ConfigError(
                    f"data: an item's '{name}' is a {type(value).__name__}, not a tensor; return "
                    "tensors (convert images and text in the dataset, or use a dataset component)")
        out[name] = value
    return out


class ItemCollate:
    """Collate per-item data into one genloom batch; a batch already assembled by a
    dataset's ``__getitems__`` (a dict) passes through untouched (the fast path)."""

    def __init__(self, columns: Mapping[str, str] | None = None, inner: Any = None) -> None:
        self.columns = dict(columns) if columns else None
        self.inner = inner  # a DataLoader's own collate_fn, applied first

    def __call__(self, batch: Any) -> dict[str, Tensor]:
        if self.inner is not None:
            return fields(self.inner(batch), self.columns)
        if isinstance(batch, Mapping):  # assembled by the dataset's __getitems__
            return batch if self.columns is None else fields(batch, self.columns)
        items = [fields(item, self.columns) for item in batch]
        return {k: torch.stack([item[k] for item in items]) for k in items[0]}


def process_share() -> tuple[int, int]:
    """``(index, count)`` of this reader among all DDP processes times loader workers."""
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    worker = torch.utils.data.get_worker_info()
    wid, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
    return rank * workers + wid, world * workers


class Shard(IterableDataset):
    """Reader ``index``'s item of every complete round of ``count`` items of ``source``
    (:func:`process_share`), so all readers get equal counts. A source with
    ``shards_workers`` (Hugging Face streaming) is split by process only, one with
    ``shards_itself`` passes through; each pass calls the source's ``set_epoch``.
    """

    def __init__(self, source: Any) -> None:
        self.source, self.epoch = source, 0

    def __iter__(self) -> Iterator[Any]:
        if getattr(self.source, "shards_itself", False):
            yield from self.source
            return
        index, count = process_share()
        if getattr(self.source, "shards_workers", False):
            worker = torch.utils.data.get_worker_info()
            workers = worker.num_workers if worker is not None else 1
            index, count = index // workers, count // workers
        if hasattr(self.source, "set_epoch"):
            self.source.set_epoch(self.epoch)
        self.epoch += 1
        round_: list[Any] = []
        for item in self.source:
            round_.append(item)
            if len(round_) == count:
                yield round_[index]
                round_ = []


def first_item(ds: Any, columns: Mapping[str, str] | None = None) -> dict[str, Tensor] | None:
    """The fields of the first item of a dataset (of a DataLoader: of its first batch's
    first row), or None when there is none; a one-line error when it cannot be mapped."""
    if isinstance(ds, DataLoader):
        batch = next(iter(ds), None)
        return None if batch is None else {k: v[0] for k, v in fields(batch, columns).items()}
    if isinstance(ds, IterableDataset) or not hasattr(ds, "__len__"):
        item = next(iter(ds), None)
    elif not len(ds):
        item = None
    elif hasattr(ds, "__getitems__"):
        item = ds.__getitems__([0])
        if isinstance(item, Mapping):  # a batch the dataset assembled itself: its first row
            return {k: v[0] for k, v in fields(item, columns).items()}
        item = item[0]
    else:
        item = ds[0]
    return None if item is None else fields(item, columns)


def infer_info(item: dict[str, Tensor] | None, cfg: Any) -> DataInfo:
    """The :class:`DataInfo` of data whose first item's fields are ``item``: float
    ``(C, H, W)`` is an image, float ``(D,)`` points, integer ``(L,)`` tokens
    (``data.vocab_size`` needed); ``data.kind``/``num_classes``/``vocab_size`` given in
    ``cfg`` win."""
    if item is None:
        raise ConfigError(f"data: the training data of '{cfg.get('name', 'the dataset')}' is empty; give "
                          "it at least one item")
    x = item["x"]
    kind = cfg.get("kind") or ("tokens" if not x.is_floating_point() else
                               {3: "image", 1: "points"}.get(x.dim(), ""))
    if kind not in ("image", "points", "tokens"):
        raise ConfigError(f"data: cannot tell what an item of shape {tuple(x.shape)} ({x.dtype}) is; set "
                          "data.kind to image, points or tokens")
    vocab = int(cfg.get("vocab_size") or 0)
    if kind == "tokens" and vocab < 1:
        raise ConfigError("data.vocab_size: token data needs its vocabulary size; set data.vocab_size")
    return DataInfo(kind=kind, shape=tuple(x.shape), num_classes=int(cfg.get("num_classes") or 0),
                    vocab_size=vocab)


class GivenData:
    """The dataset component behind ``genloom.train(cfg, data=...)``: a per-item or
    iterable torch dataset or a DataLoader (used as it is, its batches mapped through
    ``data.columns``), with ``val_data`` of the same forms as its validation data."""

    @dataclass
    class Config:
        #: genloom role -> the item's key: image/text/x and label/y, e.g. {image: img}
        columns: dict[str, str] = field(default_factory=dict)
        #: image, points or tokens; empty: inferred from the first item
        kind: str = ""
        vocab_size: int = 0
        num_classes: int = 0

    @staticmethod
    def _empty() -> Dataset:
        return torch.utils.data.TensorDataset(torch.zeros(0))

    def __init__(self, cfg: Any, source: Any = None, val: Any = None) -> None:
        if source is None:
            raise ConfigError("data.name=given takes its data from Python: genloom.train(cfg, data=...)")
        for arg, given in (("data", source), ("val_data", val)):
            if given is not None and not isinstance(given, (Dataset, DataLoader)) and not hasattr(given, "__getitem__"):
                raise ConfigError(f"data: genloom.train({arg}=...) takes a torch Dataset, IterableDataset or "
                                  f"DataLoader, got a {type(given).__name__}")
        self.cfg, self.source, self.val = cfg, source, val
        self.columns = dict(cfg.get("columns") or {}) or None
        self._info: DataInfo | None = None

    @property
    def info(self) -> DataInfo:
        if self._info is None:
            self._info = infer_info(first_item(self.source, self.columns), self.cfg)
        return self._info

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Any]:
        """``val_data`` validates when given; else a per-item dataset gives a seeded
        ``val_fraction`` of its items to validation (iterables and DataLoaders cannot be
        split: no validation). There is no test split (``genloom evaluate`` cannot
        rebuild data given from Python)."""
        train, val = self.source, self.val
        sized = not isinstance(train, (DataLoader, IterableDataset)) and hasattr(train, "__len__")
        if val is None and sized and val_fraction > 0 and int(len(train) * val_fraction) >= 1:
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
            k = int(len(train) * val_fraction)
            train, val = torch.utils.data.Subset(train, order[k:]), torch.utils.data.Subset(train, order[:k])
        return {"train": train, "val": self._empty() if val is None else val, "test": self._empty()}
