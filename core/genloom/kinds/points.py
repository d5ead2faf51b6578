"""``points``: ``(n, dims)`` coordinates, written as a scatter plot of the first two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from genloom.kinds import SampleKind


def scatter(points: Tensor, size: int = 512, extent: float = 3.5) -> np.ndarray:
    """2-D points as a white ``uint8`` image with dark dots; axes span +-``extent``."""
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    img[size // 2, :] = img[:, size // 2] = 225
    p = points.detach().float().cpu().numpy()[:, :2]
    px = ((p + extent) / (2 * extent) * (size - 1)).round().astype(int)
    keep = (px >= 1).all(1) & (px < size - 1).all(1)
    for x, y in px[keep]:
        img[size - 1 - y - 1 : size - 1 - y + 2, x - 1 : x + 2] = (30, 60, 160)
    return img


class PointsKind(SampleKind):
    """Point clouds (toy2d); a PNG scatter plot of the first two coordinates."""

    name = "points"
    suffixes = (".png",)

    def write_file(self, samples: Any, path: Path, info: Any, record: dict | None = None) -> bool:
        from PIL import Image

        from genloom.provenance import png_info

        Image.fromarray(scatter(samples.data)).save(path, pnginfo=png_info(record) if record is not None else None)
        return record is not None
