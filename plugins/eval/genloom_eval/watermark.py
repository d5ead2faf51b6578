"""An invisible, keyed watermark for images, and its detector.

Method (spread spectrum in the DCT, Cox et al. 1997, in its simplest blind form):

* The key (any string) seeds, through SHA-256, a pattern ``p`` of +1/-1 over a band of
  low 2-D DCT frequencies ``(u, v)`` with ``LOW <= u + v <= HIGH`` (the mean, ``(0, 0)``,
  is left alone). Frequencies are indexed relative to the image size, so the band is the
  same one after resizing.
* Embedding is informed (it reads the image): each band coefficient of the image's
  orthonormal DCT is moved, by at most ``CAP``, until its sign agrees with ``p`` by a
  margin of ``STRENGTH`` (0..255 pixel units at 28x28, scaled by ``sqrt(H*W)/28`` so the
  change per pixel is the same at any size); the same change goes to every channel, and
  it is redone ``ROUNDS`` times because rounding and clipping to 8-bit pixels undo part
  of it (MNIST's black background clips most negative changes).
* Detection takes the image's DCT in the band, averaged over channels, and computes the
  sign statistic ``z = sum(sign(c) * p) / sqrt(M)`` over the ``M`` band coefficients.
  Without this key's mark, each ``sign(c) * p`` is a fair +-1 coin (the pattern is random
  and independent of the image), so ``z`` is close to standard normal whatever the image:
  the threshold ``z > 3.09`` gives a false-positive rate of about 1e-3 per image, set by
  the key's randomness, not by a data set. The mark pushes ``sign(c)`` towards ``p``
  wherever the image's own coefficient is smaller than ``strength``.

What it resists and what it does not is measured by ``tests/benchmarks/bench_watermark.py``
and written in docs/trust.md: JPEG and resizing keep low frequencies, so they keep most of
the mark; cropping shifts every frequency and loses much of it. Anyone who knows the
method can remove it (blur, re-generate, add noise in the band); without the key, nobody
can tell which pattern to remove, but a strong enough perturbation removes any. A
watermark labels honest output; it proves nothing about a file where it is absent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

LOW, HIGH = 4, 13  # the band: frequencies u + v in [LOW, HIGH]
STRENGTH = 8.0  # margin each band coefficient is pushed to, at 28x28 (0..255 pixel units)
CAP = 20.0  # the most one coefficient is moved per round, at 28x28
ROUNDS = 3
THRESHOLD = 3.09  # one-sided z for a false-positive rate of 1e-3
MIN_SIDE = HIGH + 1  # smaller images cannot hold the band
TEXT_KEY = "genloom-watermark"  # PNG text chunk saying a mark was added (not the key)


@lru_cache(maxsize=32)
def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix of size ``n`` (``D @ x`` transforms a column)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    d[0] /= np.sqrt(2)
    return d


def band() -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the watermark's frequencies, in a fixed order."""
    u, v = np.meshgrid(np.arange(HIGH + 1), np.arange(HIGH + 1), indexing="ij")
    keep = (u + v >= LOW) & (u + v <= HIGH)
    return u[keep], v[keep]


def pattern(key: str) -> np.ndarray:
    """The key's +1/-1 pattern over :func:`band` (SHA-256 of the key seeds it)."""
    seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=len(band()[0]))


def _check_size(h: int, w: int) -> None:
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"a {h}x{w} image is too small for the watermark; it needs at least "
                         f"{MIN_SIDE} pixels a side")


def embed(pixels: np.ndarray, key: str, strength: float = STRENGTH) -> np.ndarray:
    """``pixels`` (``(H, W)`` or ``(H, W, C)`` uint8) with the key's mark, as uint8."""
    img = pixels.astype(np.float64)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    h, w = img.shape[:2]
    _check_size(h, w)
    dh, dw = dct_matrix(h), dct_matrix(w)
    u, v = band()
    p = pattern(key)
    scale = np.sqrt(h * w) / 28
    out = img
    for _ in range(ROUNDS):  # again after clipping to 0..255, which undoes part of a change
        coeffs = dh @ out.mean(axis=2) @ dw.T
        # informed: move each band coefficient until its sign agrees with p by a margin
        # of `strength`, by at most CAP (a large coefficient of the wrong sign stays)
        change = np.clip(strength * scale - p * coeffs[u, v], 0.0, CAP * scale)
        delta = np.zeros((h, w))
        delta[u, v] = p * change
        spatial = dh.T @ delta @ dw  # the inverse DCT of the change alone (the DCT is linear)
        out = np.clip(np.rint(out + spatial[:, :, None]), 0, 255)
    out = out.astype(np.uint8)
    return out[:, :, 0] if squeeze else out


@dataclass(frozen=True)
class Detection:
    """One image's detection: the statistic, the threshold and the verdict."""

    z: float
    threshold: float
    marked: bool


def detect(pixels: np.ndarray, key: str, threshold: float = THRESHOLD) -> Detection:
    """Whether ``pixels`` carries ``key``'s mark (the sign statistic over the band)."""
    img = pixels.astype(np.float64)
    if img.ndim == 3:
        img = img[:, :, :3].mean(axis=2)
    h, w = img.shape
    _check_size(h, w)
    coeffs = dct_matrix(h) @ img @ dct_matrix(w).T
    u, v = band()
    p = pattern(key)
    z = float(np.sum(np.sign(coeffs[u, v]) * p) / np.sqrt(len(p)))
    return Detection(z=z, threshold=threshold, marked=z > threshold)


def read_image(path: str | Path) -> tuple[np.ndarray, dict[str, str]]:
    """A PNG/JPEG file's 8-bit pixels (grey or RGB; alpha dropped) and its PNG text chunks."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            text = {k: v for k, v in getattr(im, "text", {}).items() if isinstance(v, str)}
            if im.width * im.height > 64_000_000:
                raise ValueError(f"'{path}' is {im.width}x{im.height}: too large to read")
            pixels = np.asarray(im.convert("L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"'{path}' is not an image PIL can read ({exc})") from None
    return pixels, text


def write_marked(src: str | Path, dst: str | Path, key: str, strength: float = STRENGTH) -> Path:
    """Write ``src`` with the mark to ``dst`` as PNG, keeping its PNG text chunks (the
    provenance record) and adding one that says a watermark was embedded."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    pixels, text = read_image(src)
    info = PngInfo()
    for k, v in text.items():
        if k != TEXT_KEY:
            info.add_text(k, v)
    info.add_text(TEXT_KEY, "spread-spectrum DCT, genloom_eval.watermark")
    import io

    from genloom.atomic import write_atomic

    buffer = io.BytesIO()
    Image.fromarray(embed(pixels, key, strength)).save(buffer, format="PNG", pnginfo=info)
    return write_atomic(dst, buffer.getvalue())  # dst may be src: replaced whole or not at all
