"""``images``: a folder of PNG/JPEG files, resized to a square and scaled to [-1, 1].

Files directly in the folder are unlabelled; files in sub-folders take the
sub-folder's name as their class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genloom.data.base import InMemoryDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError

SUFFIXES = {".png", ".jpg", ".jpeg"}


class ImageFolder(InMemoryDataset):
    """Every image under ``path``, centre-cropped and resized to ``size`` x ``size``."""

    @dataclass
    class Config:
        path: str = "???"
        size: int = 32
        channels: int = 3

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        root = Path(cfg.path)
        if not root.is_dir():
            raise ConfigError(f"data.path: image folder '{root}' does not exist")
        if cfg.channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {cfg.channels}")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
        if not self.files:
            raise ConfigError(f"data.path: no .png/.jpg/.jpeg files found under '{root}'")
        self.root = root
        parents = sorted({p.parent.relative_to(root).as_posix() for p in self.files} - {"."})
        self.class_names = parents if all(p.parent != root for p in self.files) else []

    @property
    def info(self) -> DataInfo:
        c, s = self.cfg.channels, self.cfg.size
        return DataInfo(
            kind="image",
            shape=(c, s, s),
            num_classes=len(self.class_names),
            class_names=self.class_names,
        )

    def load_arrays(self) -> tuple[Tensor, Tensor | None]:
        from PIL import Image

        size, mode = self.cfg.size, "L" if self.cfg.channels == 1 else "RGB"
        images = []
        for path in self.files:
            try:
                with Image.open(path) as im:
                    im = im.convert(mode)
                    side = min(im.size)
                    left, top = (im.width - side) // 2, (im.height - side) // 2
                    im = im.crop((left, top, left + side, top + side)).resize(
                        (size, size), Image.BICUBIC
                    )
                    images.append(np.asarray(im, dtype=np.float32).reshape(size, size, -1))
            except Image.DecompressionBombError:
                raise ConfigError(
                    f"data.path: image '{path}' claims more than {Image.MAX_IMAGE_PIXELS:,} pixels "
                    "(a decompression bomb, or a huge image); remove it or shrink it first"
                ) from None
            except Exception as exc:  # PIL raises OSError, ValueError, SyntaxError... on bad files
                raise ConfigError(
                    f"data.path: cannot read image '{path}' ({type(exc).__name__}: {exc})"
                ) from None
        x = torch.tensor(np.stack(images)).permute(0, 3, 1, 2) / 127.5 - 1.0
        y = None
        if self.class_names:
            index = {n: i for i, n in enumerate(self.class_names)}
            labels = [index[p.parent.relative_to(self.root).as_posix()] for p in self.files]
            y = torch.tensor(labels, dtype=torch.long)
        return x.contiguous(), y
