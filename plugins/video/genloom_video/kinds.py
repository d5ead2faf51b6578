"""The ``video`` sample kind: ``(n, frames, channels, height, width)`` in [-1, 1].

Written as an animated GIF (``.gif``, the default: every sample side by side in a grid,
one GIF frame per video frame) or a PNG filmstrip (``.png``: one row per sample, one
column per frame); ``.npy`` holds the raw array. Grey videos are written with a
256-level grey palette and no frame optimisation, so :func:`read_gif` gives back exactly
the frames written (values on the 8-bit grid): the round trip is lossless. A PNG
carries the generation record as a text chunk; a GIF gets the core's sidecar
``FILE.genloom.json``, because ``genloom inspect`` reads records from PNG, ABC and
sidecars.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genloom.errors import GenloomError
from genloom.kinds import SampleKind

#: grey between the cells of a grid or a filmstrip
PAD_VALUE = 128
#: milliseconds per GIF frame
FRAME_MS = 100
#: the largest GIF :func:`read_gif` decodes, in pixels over all frames (untrusted files)
MAX_GIF_PIXELS = 64 * 1024 * 1024


def to_uint8(videos: Tensor) -> np.ndarray:
    """Videos in [-1, 1] as ``uint8`` ``(n, frames, height, width, channels)``."""
    x = videos.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 1, 3, 4, 2).numpy()


def from_uint8(frames: np.ndarray) -> Tensor:
    """``uint8`` ``(n, frames, height, width, channels)`` as videos in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 1, 4, 2, 3).float() / 127.5 - 1


def grid_frames(videos: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """``(frames, H, W, channels)`` ``uint8``: at each time step every sample in a grid."""
    x = to_uint8(videos)
    n, t, h, w, c = x.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.full((t, rows * (h + pad) + pad, nrow * (w + pad) + pad, c), PAD_VALUE, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        out[:, top : top + h, left : left + w] = x[i]
    return out


def filmstrip(videos: Tensor, pad: int = 2) -> np.ndarray:
    """``(H, W, channels)`` ``uint8``: one row per sample, its frames left to right."""
    x = to_uint8(videos)
    n, t, h, w, c = x.shape
    out = np.full((n * (h + pad) + pad, t * (w + pad) + pad, c), PAD_VALUE, dtype=np.uint8)
    for i in range(n):
        for f in range(t):
            top, left = pad + i * (h + pad), pad + f * (w + pad)
            out[top : top + h, left : left + w] = x[i, f]
    return out


def _image(array: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def write_gif(frames: np.ndarray, path: Path, duration: int = FRAME_MS) -> None:
    """``(frames, H, W, channels)`` ``uint8`` as a looping GIF; grey frames exactly."""
    from PIL import Image

    images = []
    for f in frames:
        if f.shape[-1] == 1:  # a grey palette of all 256 levels: index = value
            im = Image.frombytes("P", (f.shape[1], f.shape[0]), np.ascontiguousarray(f[..., 0]).tobytes())
            im.putpalette([v for v in range(256) for _ in range(3)])
        else:
            im = Image.fromarray(f).quantize(256)
        images.append(im)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration,
                   loop=0, optimize=False, disposal=1)


def read_gif(path: str | Path, grey: bool = True) -> np.ndarray:
    """A GIF's frames as ``uint8`` ``(frames, H, W, 1 or 3)``; refuses a file whose frames
    hold more than :data:`MAX_GIF_PIXELS` pixels (it is untrusted input)."""
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as im:
            if im.format != "GIF":
                raise GenloomError(f"'{path}' is not a GIF file")
            total = im.size[0] * im.size[1] * getattr(im, "n_frames", 1)
            if total > MAX_GIF_PIXELS:
                raise GenloomError(f"'{path}' has {total} pixels over its frames, more than "
                                   f"{MAX_GIF_PIXELS}; refused")
            frames = [np.asarray(f.convert("L" if grey else "RGB")) for f in ImageSequence.Iterator(im)]
    except OSError as exc:
        raise GenloomError(f"cannot read '{path}' as a GIF: {exc}") from None
    out = np.stack(frames)
    return out[..., None] if grey else out


def split_grid(frames: np.ndarray, n: int, height: int, width: int, nrow: int | None = None,
               pad: int = 2) -> np.ndarray:
    """The inverse of :func:`grid_frames`: ``(n, frames, height, width, channels)``."""
    nrow = nrow or math.ceil(math.sqrt(n))
    out = []
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (height + pad), pad + col * (width + pad)
        out.append(frames[:, top : top + height, left : left + width])
    return np.stack(out)


def read_video_file(path: str | Path, n: int, shape: tuple[int, ...], nrow: int | None = None) -> Tensor:
    """``n`` videos of ``shape`` (frames, channels, H, W) read back from a ``.gif`` this
    kind wrote, as values in [-1, 1] (what :func:`to_uint8` of the written data gives)."""
    t, c, h, w = shape
    frames = read_gif(path, grey=c == 1)
    if frames.shape[0] != t:
        raise GenloomError(f"'{path}' has {frames.shape[0]} frames, not {t}")
    return from_uint8(split_grid(frames, n, h, w, nrow))


class VideoKind(SampleKind):
    """Videos ``(n, frames, channels, height, width)`` in [-1, 1]: ``.gif`` or ``.png``."""

    name = "video"
    suffixes = (".gif", ".png")
    default_n = 16
    value_range = (-1.0, 1.0)

    def write_file(self, samples: Any, path: Path, info: Any, record: dict | None = None) -> bool:
        data = samples.data
        if data.dim() != 5:
            raise GenloomError(f"video samples are (n, frames, channels, height, width), got {tuple(data.shape)}")
        if path.suffix.lower() == ".png":
            from genloom.provenance import png_info

            _image(filmstrip(data)).save(path, format="PNG",
                                         pnginfo=png_info(record) if record is not None else None)
            return record is not None
        write_gif(grid_frames(data, nrow=samples.extras.get("nrow")), path)
        return False

    def features(self, data: Tensor, info: Any = None) -> Tensor:
        return data.flatten(1).double()

    def random(self, info: Any, n: int, generator: torch.Generator) -> Tensor:
        return torch.rand((n, *info.shape), generator=generator) * 2 - 1
