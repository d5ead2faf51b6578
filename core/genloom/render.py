"""Write samples where a person can look at them: PNG grids, scatter plots, text."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from torch import Tensor

from genloom.data.info import DataInfo
from genloom.errors import GenloomError
from genloom.interfaces import Samples


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


def decode_tokens(tokens: Tensor, info: DataInfo, lengths: Tensor | None = None) -> list[str]:
    """Each row as text; ``lengths`` (decoding samplers' ``extras``) cuts off the padding."""
    from genloom.data.tokenizers import tokenizer_from_state

    tok = tokenizer_from_state(info.tokenizer)
    if lengths is None:
        return [tok.decode(row.tolist()) for row in tokens]
    return [tok.decode(row[: int(k)].tolist()) for row, k in zip(tokens, lengths)]


def save_samples(samples: Samples, path: str | Path, info: DataInfo | None = None) -> Path:
    """Write ``samples`` to ``path``: ``.png`` for images and points, ``.txt`` for tokens,
    ``.npy`` for the raw array of any kind."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, samples.data.detach().cpu().numpy())
    elif samples.kind == "tokens":
        if info is None:
            raise GenloomError("token samples need the data info (tokenizer) to be decoded")
        sep = "\n" + "-" * 40 + "\n"
        path.write_text(sep.join(decode_tokens(samples.data, info, samples.extras.get("lengths"))) + "\n", encoding="utf-8")
    elif suffix != ".png":
        raise GenloomError(f"cannot write {samples.kind} samples to '{path}'; use .png or .npy")
    elif samples.kind == "image":
        grid = image_grid(samples.data, nrow=samples.extras.get("nrow"))
        Image.fromarray(grid[..., 0] if grid.shape[2] == 1 else grid).save(path)
    elif samples.kind == "points":
        Image.fromarray(scatter(samples.data)).save(path)
    else:
        raise GenloomError(f"do not know how to draw samples of kind '{samples.kind}'")
    return path


def default_suffix(kind: str) -> str:
    return ".txt" if kind == "tokens" else ".png"
