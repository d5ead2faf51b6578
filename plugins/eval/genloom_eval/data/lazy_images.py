"""``image-stream``: a folder of images read lazily, one file per item, decoded in the
DataLoader's workers (``data.num_workers``), so a folder larger than memory trains with
only the batches in flight resident.

Transforms from config, Pillow and torch only: the shorter side is resized to
``resize`` (0: ``size``), then a ``size`` x ``size`` crop is cut (random while
training with ``crop: random``, centred otherwise) and, with ``flip: true``, mirrored
left-right half the time in training. Random choices come from torch's generator,
which Lightning seeds per worker from the run's ``seed``. The folder walk is that of
``images`` (bounded, never through links out of the folder); labels are sub-folder names.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom.data.base import GenDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError
from genloom_eval.data.images import MAX_SIZE, find_images

CROPS = ("center", "random")


def load_image(path: Path, mode: str, resize: int, size: int, crop: str, flip: bool) -> Tensor:
    """One image as a ``(C, size, size)`` float tensor in [-1, 1]."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            return to_tensor(im, mode, resize, size, crop, flip)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ConfigError(f"data.path: image '{path}' claims more than {Image.MAX_IMAGE_PIXELS:,} pixels; "
                          "remove it or shrink it first") from None
    except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... on bad files
        raise ConfigError(f"data.path: cannot read image '{path}' ({type(exc).__name__}: {exc})") from None


def to_tensor(im: Any, mode: str, resize: int, size: int, crop: str, flip: bool) -> Tensor:
    """A PIL image resized (shorter side ``resize``), cropped to ``size`` x ``size``
    (``center`` or ``random``), maybe flipped, as ``(C, size, size)`` in [-1, 1]."""
    from PIL import Image

    im = im.convert(mode)
    scale = resize / min(im.size)
    w, h = max(size, round(im.width * scale)), max(size, round(im.height * scale))
    im = im.resize((w, h), Image.BICUBIC)
    if crop == "random":
        left, top = int(torch.randint(0, w - size + 1, ())), int(torch.randint(0, h - size + 1, ()))
    else:
        left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    if flip and bool(torch.rand(()) < 0.5):
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    pixels = np.asarray(im, dtype=np.uint8).reshape(size, size, -1)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 127.5 - 1.0


class LazyImages(Dataset):
    """``{"x", ["y"]}`` per file, decoded when asked for (in a loader worker)."""

    def __init__(self, files: list[Path], labels: list[int] | None, cfg: Any, train: bool) -> None:
        self.files, self.labels = files, labels
        self.mode = "L" if cfg.channels == 1 else "RGB"
        self.size, self.resize = cfg.size, cfg.resize or cfg.size
        self.crop = cfg.crop if train else "center"
        self.flip = bool(cfg.flip) and train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {"x": load_image(self.files[i], self.mode, self.resize, self.size, self.crop, self.flip)}
        if self.labels is not None:
            item["y"] = torch.tensor(self.labels[i])
        return item


class ImageStream(GenDataset):
    """Every image under ``path``, read lazily with resize/crop/flip transforms."""

    @dataclass
    class Config:
        path: str = "???"
        size: int = 32
        channels: int = 3
        #: resize the shorter side to this before cropping (0: to ``size``)
        resize: int = 0
        #: ``center`` or ``random`` (random only in training)
        crop: str = "center"
        #: mirror left-right half the time in training
        flip: bool = False
        max_files: int = 1_000_000
        max_depth: int = 3

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        root = Path(cfg.path)
        if not root.is_dir():
            raise ConfigError(f"data.path: image folder '{root}' does not exist")
        if cfg.channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {cfg.channels}")
        if not 1 <= cfg.size <= MAX_SIZE or not 0 <= cfg.resize <= MAX_SIZE:
            raise ConfigError(f"data.size (1 to {MAX_SIZE}) and data.resize (0 to {MAX_SIZE}) are out of range: "
                              f"{cfg.size}, {cfg.resize}")
        if cfg.resize and cfg.resize < cfg.size:
            raise ConfigError(f"data.resize ({cfg.resize}) must be at least data.size ({cfg.size}), or 0")
        if cfg.crop not in CROPS:
            raise ConfigError(f"data.crop: unknown choice '{cfg.crop}'; valid choices: {', '.join(CROPS)}")
        self.files = find_images(root, cfg.max_files, cfg.max_depth)
        if not self.files:
            raise ConfigError(f"data.path: no .png/.jpg/.jpeg files found under '{root}'")
        parents = sorted({p.parent.relative_to(root).as_posix() for p in self.files} - {"."})
        self.class_names = parents if all(p.parent != root for p in self.files) else []
        index = {n: i for i, n in enumerate(self.class_names)}
        self.labels = [index[p.parent.relative_to(root).as_posix()] for p in self.files] if parents else None

    @property
    def info(self) -> DataInfo:
        c, s = self.cfg.channels, self.cfg.size
        return DataInfo(kind="image", shape=(c, s, s), num_classes=len(self.class_names),
                        class_names=self.class_names)

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        n = len(self.files)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
        n_test, n_val = int(round(n * test_fraction)), int(round(n * val_fraction))
        parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
        return {k: LazyImages([self.files[i] for i in idx],
                              None if self.labels is None else [self.labels[i] for i in idx],
                              self.cfg, train=k == "train")
                for k, idx in parts.items()}
