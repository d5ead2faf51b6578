"""The dataset component contract and an in-memory tensor dataset that batches fast.

A dataset component is a class registered under kind ``dataset`` with a ``Config``
dataclass (its options) and two things: :attr:`info` and :meth:`splits`. Splits are
deterministic: the same config always gives the same train/val/test examples.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom.data.info import DataInfo


class TensorBatches(Dataset):
    """Examples held in tensors; ``__getitems__`` slices a whole batch at once (one tensor
    index instead of ``batch_size`` Python calls plus a collate)."""

    def __init__(self, x: Tensor, y: Tensor | None = None) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        # index_select, not x[idx]: advanced indexing is much slower under thread contention
        batch = {"x": self.x.index_select(0, idx)}
        if self.y is not None:
            batch["y"] = self.y.index_select(0, idx)
        return batch


@runtime_checkable
class UsesSavedTokenizer(Protocol):
    """Optional dataset method: encode with the tokenizer saved with a model's weights.

    A tokenizer refitted on other text would renumber a token model's ids, so wherever
    weights are reused (``init_from``, ``genloom evaluate``) the core hands the saved
    tokenizer state (``DataInfo.tokenizer``) to a dataset with this method before it
    reads ``info`` or ``splits``.
    """

    def use_tokenizer(self, state: dict[str, Any]) -> None:
        """Encode from now on with the tokenizer ``state`` describes (not a refit one)."""


def adopt_saved_tokenizer(dataset: Any, state: dict[str, Any] | None) -> bool:
    """Call ``dataset.use_tokenizer(state)`` if the dataset takes a saved tokenizer
    (:class:`UsesSavedTokenizer`) and ``state`` is one; True when it did."""
    if not state or not isinstance(dataset, UsesSavedTokenizer):
        return False
    dataset.use_tokenizer(state)
    return True


def identity_collate(batch: Any) -> Any:
    """The batch is already collated by ``__getitems__``."""
    return batch


class GenDataset(abc.ABC):
    """Base for dataset components."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    @property
    @abc.abstractmethod
    def info(self) -> DataInfo:
        """Shape, kind, classes and vocabulary of the examples."""

    @abc.abstractmethod
    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        """``{"train": ..., "val": ..., "test": ...}``; each yields ``{"x", ["y"]}`` batches."""


class InMemoryDataset(GenDataset):
    """A dataset small enough to hold in memory, split by a seeded permutation."""

    _arrays: tuple[Tensor, Tensor | None] | None = None

    @abc.abstractmethod
    def load_arrays(self) -> tuple[Tensor, Tensor | None]:
        """All examples (and labels, or None) as tensors."""

    def arrays(self) -> tuple[Tensor, Tensor | None]:
        if self._arrays is None:
            self._arrays = self.load_arrays()
        return self._arrays

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        x, y = self.arrays()
        n = len(x)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        parts = {
            "test": order[:n_test],
            "val": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :],
        }
        return {
            k: TensorBatches(x[idx], None if y is None else y[idx]) for k, idx in parts.items()
        }
