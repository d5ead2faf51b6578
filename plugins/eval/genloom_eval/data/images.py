"""``images``: a folder of PNG/JPEG files, resized to a square and scaled to [-1, 1].

Files directly in the folder are unlabelled; files in sub-folders take the
sub-folder's name as their class.

The folder comes from a config, and a checkpoint carries its config, so ``genloom
evaluate`` rebuilds the dataset from whatever ``data.path`` a checkpoint names: the
walk is bounded (``max_files`` entries, ``max_depth`` levels of sub-folders) and never
leaves the folder through a symbolic link, so ``path: /`` is a one-line error instead
of a walk over the whole filesystem.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genloom.data.base import InMemoryDataset
from genloom.data.info import DataInfo
from genloom.errors import ConfigError

SUFFIXES = {".png", ".jpg", ".jpeg"}


#: the largest side ``data.size`` may ask for (one 4096x4096 RGB image is 200 MB as floats)
MAX_SIZE = 4096


def find_images(root: Path, max_files: int, max_depth: int) -> list[Path]:
    """Every PNG/JPEG file under ``root``, sorted; a one-line error past ``max_files``
    entries (of any kind) or ``max_depth`` levels of sub-folders.

    Symbolic links to folders are not followed, and a linked file counts only when it
    resolves inside ``root``: the walk never leaves the folder it was given.
    """
    real_root = root.resolve()
    found: list[Path] = []
    seen = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        if dirs and depth >= max_depth:
            raise ConfigError(
                f"data.path: '{root}' has folders more than {max_depth} levels deep ('{here / dirs[0]}'); "
                "give the folder of images itself, or raise data.max_depth"
            )
        seen += len(files) + len(dirs)
        if seen > max_files:
            raise ConfigError(
                f"data.path: '{root}' holds more than {max_files:,} files and folders; give the folder "
                "of images itself, or raise data.max_files"
            )
        dirs.sort()
        for name in files:
            path = here / name
            if path.suffix.lower() not in SUFFIXES:
                continue
            if path.is_symlink():
                target = path.resolve()
                if real_root != target and real_root not in target.parents:
                    continue  # a link out of the folder: not part of this dataset
            found.append(path)
    return sorted(found)


class ImageFolder(InMemoryDataset):
    """Every image under ``path``, centre-cropped and resized to ``size`` x ``size``."""

    @dataclass
    class Config:
        path: str = "???"
        size: int = 32
        channels: int = 3
        #: refuse a folder with more files and folders than this (a mistyped path: /)
        max_files: int = 100_000
        #: refuse a folder whose sub-folders nest deeper than this
        max_depth: int = 3

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        root = Path(cfg.path)
        if not root.is_dir():
            raise ConfigError(f"data.path: image folder '{root}' does not exist")
        if cfg.channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {cfg.channels}")
        if not 1 <= cfg.size <= MAX_SIZE:
            raise ConfigError(f"data.size must be 1 to {MAX_SIZE} (the side of the square images), got {cfg.size}")
        if cfg.max_files < 1 or cfg.max_depth < 0:
            raise ConfigError(f"data.max_files must be at least 1 and data.max_depth at least 0, "
                              f"got {cfg.max_files} and {cfg.max_depth}")
        self.files = find_images(root, cfg.max_files, cfg.max_depth)
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
                with warnings.catch_warnings():
                    # PIL only warns up to twice its pixel limit; such a file is refused too
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im = Image.open(path)
                with im:
                    im = im.convert(mode)
                    side = min(im.size)
                    left, top = (im.width - side) // 2, (im.height - side) // 2
                    im = im.crop((left, top, left + side, top + side)).resize(
                        (size, size), Image.BICUBIC
                    )
                    images.append(np.asarray(im, dtype=np.float32).reshape(size, size, -1))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
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
