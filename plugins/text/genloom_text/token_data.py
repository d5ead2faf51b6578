"""``token-file``: language-model windows read from a token file
(:mod:`genloom_text.tokenfile`, written once by ``genloom tokenize``) a window at a
time, so a corpus larger than memory trains in a process whose size does not grow
with it.

Splits are contiguous (train first, then validation, then test), as for ``text``.
Training windows start at random offsets, as nanoGPT's ``get_batch`` draws them, but
from a generator seeded by ``(data.split_seed, reader, epoch)`` rather than torch's
global one: every DDP process and loader worker (a *reader*) draws only inside its own
contiguous part of the training ids, so readers never read the same text, a run is
repeatable, and each epoch draws fresh offsets. Validation and test read fixed,
non-overlapping windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.data.items import process_share
from genloom_text.tokenfile import read_header


class _Windows:
    """Reads windows of the file with ``os.pread``, opened on first use in each process
    (loader workers pickle the path, not the ids). Not a memory map: the kernel maps
    neighbouring cached pages around every random read into a map, so a process's
    resident size would grow with the windows it read (about 60 KB each), where a
    read's pages stay in the page cache, outside it."""

    def __init__(self, path: str, start: int, stop: int, length: int, dtype: str) -> None:
        self.path, self.start, self.stop, self.length = path, start, stop, length
        self._fd: int | None = None
        self._dtype = np.dtype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def window(self, start: int) -> Tensor:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        size = self._dtype.itemsize
        data = os.pread(self._fd, (self.length + 1) * size, start * size)
        return torch.from_numpy(np.frombuffer(data, dtype=self._dtype).astype(np.int64))


class FixedTokenWindows(_Windows, Dataset):
    """Non-overlapping windows of ``length + 1`` ids of ``[start, stop)``."""

    def __len__(self) -> int:
        return max(0, (self.stop - self.start - 1) // self.length)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        return {"x": torch.stack([self.window(self.start + i * self.length) for i in indices])}


class RandomTokenWindows(_Windows, IterableDataset):
    """Random windows of ``length + 1`` ids, each reader (:func:`process_share`) inside
    its own equal, contiguous part of ``[start, stop)``; an epoch is as many windows as
    the part holds non-overlapping ones, the same count on every reader."""

    shards_itself = True  # genloom's Shard leaves the sharing out to us
    CHUNK = 1 << 16  # offsets drawn at a time

    def __init__(self, path: str, start: int, stop: int, length: int, dtype: str, seed: int) -> None:
        super().__init__(path, start, stop, length, dtype)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def part(self, index: int, count: int) -> tuple[int, int]:
        """``[lo, hi)``: the ids reader ``index`` of ``count`` draws its windows from."""
        size = (self.stop - self.start) // count
        return self.start + index * size, self.start + (index + 1) * size

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        index, count = process_share()
        lo, hi = self.part(index, count)
        n = max(0, (hi - lo - 1) // self.length)
        rng = np.random.default_rng([self.seed, index, count, self.epoch])
        self.epoch += 1
        top = max(lo, hi - self.length - 1) + 1
        # offsets are drawn a chunk at a time: an epoch's worth at once is 8 bytes per
        # window, which grows with the corpus (1 GB for 16 GB of tokens)
        for first in range(0, n, self.CHUNK):
            for start in rng.integers(lo, top, size=min(self.CHUNK, n - first)):
                yield {"x": self.window(int(start))}


class TokenFile(GenDataset):
    """Windows of ``block_size + 1`` ids from a token file, never loaded whole."""

    @dataclass
    class Config:
        path: str = "???"
        block_size: int = field(default=128, metadata={"min": 1})

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.header = read_header(cfg.path)

    @property
    def info(self) -> DataInfo:
        return DataInfo(kind="tokens", shape=(self.cfg.block_size + 1,),
                        vocab_size=self.header["vocab_size"], tokenizer=self.header["tokenizer"])

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        n, length, path = self.header["count"], self.cfg.block_size, str(self.cfg.path)
        dtype = self.header["dtype"]
        n_train = int(n * (1 - val_fraction - test_fraction))
        n_val = int(n * val_fraction)
        return {
            "train": RandomTokenWindows(path, 0, n_train, length, dtype, seed),
            "val": FixedTokenWindows(path, n_train, n_train + n_val, length, dtype),
            "test": FixedTokenWindows(path, n_train + n_val, n, length, dtype),
        }
