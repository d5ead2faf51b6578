"""``image``: ``(n, channels, height, width)`` in [-1, 1], written as a PNG grid."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genloom.kinds import SampleKind


def image_grid(images: Tensor, nrow: int | None = None, min_cell: int = 32, pad: int = 2) -> np.ndarray:
    """``(n, c, h, w)`` images in [-1, 1] as one ``uint8`` grid (h, w, c), upscaled if tiny."""
    x = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().byte().cpu().numpy()
    n, c, h, w = x.shape
    scale = max(1, math.ceil(min_cell / max(h, w)))
    x = x.repeat(scale, axis=2).repeat(scale, axis=3)
    h, w = h * scale, w * scale
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = x[i].transpose(1, 2, 0)
    return grid


class ImageKind(SampleKind):
    """Images; a PNG grid, ``extras["nrow"]`` images per row (default: square)."""

    name = "image"
    suffixes = (".png",)
    value_range = (-1.0, 1.0)

    def write_file(self, samples: Any, path: Path, info: Any, record: dict | None = None) -> bool:
        from PIL import Image

        from genloom.provenance import png_info

        grid = image_grid(samples.data, nrow=samples.extras.get("nrow"))
        image = Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid)
        image.save(path, pnginfo=png_info(record) if record is not None else None)
        return record is not None

    def random(self, info: Any, n: int, generator: torch.Generator) -> Tensor:
        return torch.rand((n, *info.shape), generator=generator) * 2 - 1
