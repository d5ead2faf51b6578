"""``video_folder``: a folder of your videos, cut into clips.

Every ``.gif`` (read by Pillow) and, with ``pip install 'genloom-video[mp4]'``, every
``.mp4`` (read by imageio's ffmpeg plugin) directly in ``data.root`` is read as grey
frames, resized to ``data.size`` x ``data.size`` and cut into non-overlapping clips of
``data.frames`` frames. The files are untrusted: at most ``MAX_FILES`` files and
``MAX_FRAMES_PER_FILE`` frames each are read, nothing is imported or executed, and
nothing is written. Splits are by seeded permutation of the clips.
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

MAX_FILES, MAX_FRAMES_PER_FILE = 10_000, 2_000
MP4_HINT = "reading .mp4 needs imageio with ffmpeg: pip install 'genloom-video[mp4]'"


def _gif_frames(path: Path, size: int) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    frames = []
    with Image.open(path) as im:
        for k, f in enumerate(ImageSequence.Iterator(im)):
            if k >= MAX_FRAMES_PER_FILE:
                break
            frames.append(np.asarray(f.convert("L").resize((size, size), Image.BILINEAR)))
    return frames


def _mp4_frames(path: Path, size: int) -> list[np.ndarray]:
    try:
        import imageio.v3 as iio
    except ImportError:
        raise ConfigError(MP4_HINT) from None
    from PIL import Image

    frames = []
    for k, f in enumerate(iio.imiter(path)):
        if k >= MAX_FRAMES_PER_FILE:
            break
        frames.append(np.asarray(Image.fromarray(f).convert("L").resize((size, size), Image.BILINEAR)))
    return frames


class VideoFolder(InMemoryDataset):
    """Clips ``(frames, 1, size, size)`` in [-1, 1] from the videos in ``data.root``."""

    @dataclass
    class Config:
        root: str = ""
        frames: int = 10
        size: int = 32

    @property
    def info(self) -> DataInfo:
        if not 1 <= self.cfg.frames <= 64 or not 2 <= self.cfg.size <= 128:
            raise ConfigError(f"data.frames={self.cfg.frames}, data.size={self.cfg.size}: give 1 to 64 "
                              "frames and a size from 2 to 128")
        return DataInfo(kind="video", shape=(self.cfg.frames, 1, self.cfg.size, self.cfg.size))

    def load_arrays(self) -> tuple[Tensor, Tensor | None]:
        info = self.info
        root = Path(self.cfg.root)
        if not self.cfg.root or not root.is_dir():
            raise ConfigError(f"data.root='{self.cfg.root}' is not a folder; give data.root=FOLDER of .gif/.mp4 files")
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".gif", ".mp4") and p.is_file())[:MAX_FILES]
        clips = []
        t = info.shape[0]
        for path in files:
            try:
                frames = (_gif_frames if path.suffix.lower() == ".gif" else _mp4_frames)(path, self.cfg.size)
            except OSError as exc:
                raise ConfigError(f"cannot read '{path}' as a video: {exc}") from None
            for start in range(0, len(frames) - t + 1, t):
                clips.append(np.stack(frames[start : start + t]))
        if not clips:
            raise ConfigError(f"data.root='{root}' holds no .gif or .mp4 with at least {t} frames "
                              f"(data.frames)")
        x = torch.from_numpy(np.stack(clips)).float().unsqueeze(2) / 127.5 - 1
        return x, None
