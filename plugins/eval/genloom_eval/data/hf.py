"""``hf``: a Hugging Face ``datasets`` dataset from a local folder or data file, map-style
or streaming, read through a column mapping (needs ``pip install 'genloom-eval[hf]'``).

``data.columns`` maps genloom's roles to the dataset's columns: ``image`` (a PIL image
or an array: resized and centre-cropped to ``size``, scaled to [-1, 1]), ``label`` (an
integer; a ``ClassLabel`` column also gives the class names), ``text`` (tokenised with
``data.tokenizer`` and cut into windows of ``block_size + 1`` ids across rows) or ``x``
(numbers as they are). Nothing downloads: ``path`` is a folder ``save_to_disk`` wrote
or a ``.parquet``/``.csv``/``.json``/``.jsonl``/``.txt`` file.

A map-style dataset is split by a seeded permutation like the built-in ones; a
streaming one (``streaming: true``) all trains, shuffled in a buffer of
``shuffle_buffer`` rows seeded by ``split_seed`` and the epoch, its shards shared out
among loader workers by ``datasets`` and its rows among DDP processes by genloom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, Subset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.data.items import fields, infer_info
from genloom.errors import ConfigError

BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text",
            ".arrow": "arrow"}


def load_hf(path: str, split: str, streaming: bool) -> Any:
    """The ``datasets`` object at ``path`` (a ``save_to_disk`` folder or a data file)."""
    try:
        import datasets
    except ImportError:
        raise ConfigError("data.name=hf needs the 'datasets' package: pip install 'genloom-eval[hf]'") from None
    p = Path(path)
    if p.is_dir():
        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ConfigError(f"data.split: '{path}' has no split '{split}'; it has {', '.join(ds)}")
            ds = ds[split]
        return ds.to_iterable_dataset(num_shards=max(1, min(64, len(ds)))) if streaming else ds
    if p.suffix.lower() not in BUILDERS or not p.is_file():
        raise ConfigError(f"data.path: '{path}' is neither a folder save_to_disk wrote nor a "
                          f"{'/'.join(BUILDERS)} file")
    return datasets.load_dataset(BUILDERS[p.suffix.lower()], data_files=str(p), split="train",
                                 streaming=streaming)


class Rows:
    """Turns one row into genloom's fields through ``data.columns``."""

    def __init__(self, cfg: Any) -> None:
        self.columns = dict(cfg.columns) if cfg.columns else {"image": "image", "label": "label"}
        self.cfg = cfg

    def __call__(self, row: dict[str, Any]) -> dict[str, Tensor]:
        from genloom_eval.data.lazy_images import to_tensor

        missing = [c for c in self.columns.values() if c not in row]
        if missing:
            raise ConfigError(f"data.columns: the dataset has no column '{missing[0]}' (it has "
                              f"{', '.join(sorted(row))}); name one of those")
        out = {}
        for role, column in self.columns.items():
            value = row[column]
            if role == "image" and hasattr(value, "convert"):  # a PIL image
                mode = "L" if self.cfg.channels == 1 else "RGB"
                value = to_tensor(value, mode, self.cfg.size, self.cfg.size, "center", False)
            elif role == "text":
                continue  # tokenised by TextWindows
            out[role] = value
        return fields(out, {r: r for r in out})


class HFItems(Dataset):
    """A map-style ``datasets.Dataset``, row by row as genloom items."""

    def __init__(self, ds: Any, rows: Rows) -> None:
        self.ds, self.rows = ds, rows

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.rows(self.ds[int(i)])


class HFStream(IterableDataset):
    """A streaming ``datasets.IterableDataset`` as genloom items; ``datasets`` splits its
    shards among loader workers itself (hence ``shards_workers``)."""

    shards_workers = True

    def __init__(self, ds: Any, rows: Rows) -> None:
        self.ds, self.rows = ds, rows

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.ds, "set_epoch"):
            self.ds.set_epoch(epoch)

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        return (self.rows(row) for row in self.ds)


class TextWindows(HFStream):
    """Rows of a text column tokenised and joined (newline between rows), cut into
    non-overlapping windows of ``length + 1`` ids."""

    def __init__(self, ds: Any, column: str, tokenizer: Any, length: int) -> None:
        self.ds, self.column, self.tokenizer, self.length = ds, column, tokenizer, length

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        buffer: list[int] = []
        for row in self.ds:
            if self.column not in row:
                raise ConfigError(f"data.columns: the dataset has no column '{self.column}' (it has "
                                  f"{', '.join(sorted(row))}); name one of those")
            buffer.extend(self.tokenizer.encode(str(row[self.column]) + "\n"))
            while len(buffer) > self.length:
                yield {"x": torch.tensor(buffer[: self.length + 1])}
                del buffer[: self.length]


class HFDataset(GenDataset):
    """A Hugging Face dataset read through ``data.columns``."""

    @dataclass
    class Config:
        path: str = "???"
        split: str = "train"
        streaming: bool = False
        #: genloom role (image, label, text, x) -> the dataset's column
        columns: dict[str, str] = field(default_factory=dict)
        size: int = 32
        channels: int = 3
        tokenizer: str = "byte"
        block_size: int = field(default=128, metadata={"min": 1})
        shuffle_buffer: int = field(default=1000, metadata={"min": 1})
        #: labels' classes; 0: a ClassLabel column's count, else unconditional
        num_classes: int = 0

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.ds = load_hf(cfg.path, cfg.split, cfg.streaming)
        self.rows = Rows(cfg)
        self.text = self.rows.columns.get("text")
        self.tokenizer = None
        if self.text:
            from genloom.plugins import get_registry

            self.tokenizer = get_registry().load("tokenizer", cfg.tokenizer).fit(
                "".join(str(r.get(self.text, "")) for r in _head(self.ds, 1000)))
        self._info: DataInfo | None = None

    def _classes(self) -> list[str]:
        feature = (getattr(self.ds, "features", None) or {}).get(self.rows.columns.get("label", ""))
        return list(getattr(feature, "names", None) or [])

    @property
    def info(self) -> DataInfo:
        if self._info is None:
            if self.text:
                tok = self.tokenizer
                self._info = DataInfo(kind="tokens", shape=(self.cfg.block_size + 1,),
                                      vocab_size=tok.vocab_size, tokenizer=tok.state())
            else:
                names = self._classes()
                first = next(iter(_head(self.ds, 1)), None)
                info = infer_info(None if first is None else self.rows(first),
                                  {"name": "hf", "num_classes": self.cfg.num_classes or len(names)})
                info.class_names = names
                self._info = info
        return self._info

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Any]:
        ds = self.ds
        if self.cfg.streaming:
            ds = ds.shuffle(seed=seed, buffer_size=self.cfg.shuffle_buffer)
        if self.text:
            items = TextWindows(ds if self.cfg.streaming else ds.to_iterable_dataset(), self.text,
                                self.tokenizer, self.cfg.block_size)
            return {"train": items, "val": Subset(HFItems(ds, self.rows), []),
                    "test": Subset(HFItems(ds, self.rows), [])}
        if self.cfg.streaming:
            empty = Subset(HFItems([], self.rows), [])
            return {"train": HFStream(ds, self.rows), "val": empty, "test": empty}
        n = len(ds)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        items = HFItems(ds, self.rows)
        return {"test": Subset(items, order[:n_test]), "val": Subset(items, order[n_test:n_test + n_val]),
                "train": Subset(items, order[n_test + n_val:])}


def _head(ds: Any, n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of a map-style or streaming dataset."""
    if hasattr(ds, "take"):
        return list(ds.take(n))
    return [ds[i] for i in range(min(n, len(ds)))]
