"""Attributes measured on a grey digit image: the one definition captions and metrics share.

The captioned digits (:mod:`genloom_eval.data.captioned_mnist`) are described by what is
measured here, and a text-to-image model's samples are scored by measuring them again with
the same code, so "a thick seven" means the same thing when a caption is written and when
a sample is checked. Every measurement reads the ink ``p = (x + 1) / 2`` of an image ``x``
in ``[-1, 1]`` (background -1), of shape ``(n, 1, H, W)`` (any size; the thresholds are in
pixels of a 28x28 frame and scale with ``W / 28``):

* ``thickness``: mean stroke width in pixels, ``2 * area / perimeter`` of the ink mask
  ``p > 0.5`` (a stroke of width ``w`` and length ``l >> w`` has area ``w l`` and perimeter
  about ``2 l``); the perimeter counts mask/background edges between 4-neighbours, the
  frame's border included;
* ``slant``: horizontal pixels per vertical pixel of the ink's principal shear,
  ``-cov(col, row) / var(row)`` over the ink weights ``p`` (rows grow downwards, so a digit
  whose top is to the right of its bottom has a positive slant: it leans right);
* ``size``: the height in pixels of the mask's bounding box (rows holding any ink);
* ``horizontal`` and ``vertical``: the ink's centre of mass (column, row) in pixels.

Each value falls in one of three bins (:data:`BINS`, thresholds in :data:`THRESHOLDS`),
chosen near the tertiles of the captioned (moved and shrunk) digits so each bin is common.
Slant's bins are not centred on 0: most handwritten digits lean right a little, so
``upright`` is a slant from 0 to 0.25 and ``left`` any negative slant.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: attribute -> its three values, in bin order (low to high)
BINS: dict[str, tuple[str, str, str]] = {
    "thickness": ("thin", "regular", "thick"),
    "slant": ("left", "upright", "right"),
    "size": ("small", "mid-sized", "large"),
    "horizontal": ("left", "centre", "right"),
    "vertical": ("top", "middle", "bottom"),
}
#: attribute -> (low, high): below ``low`` is the first bin, at or above ``high`` the last
#: (pixels of a 28x28 frame; slant in pixels per pixel)
THRESHOLDS: dict[str, tuple[float, float]] = {
    "thickness": (1.35, 1.62),
    "slant": (0.0, 0.25),
    "size": (13.5, 15.5),
    "horizontal": (12.5, 15.0),
    "vertical": (12.5, 15.0),
}
NAMES = tuple(BINS)


def ink(x: Tensor) -> Tensor:
    """``(n, H, W)`` ink in [0, 1] from images in [-1, 1] of shape ``(n, 1, H, W)``."""
    return ((x.float()[:, 0] + 1.0) / 2.0).clamp(0.0, 1.0)


def measure(x: Tensor) -> dict[str, Tensor]:
    """Each attribute's value per image, ``{name: (n,) float}``, in 28x28-frame pixels."""
    p = ink(x)
    n, h, w = p.shape
    scale = 28.0 / w
    mask = (p > 0.5).float()
    area = mask.flatten(1).sum(1)
    padded = torch.nn.functional.pad(mask, (1, 1, 1, 1))
    edges = (padded[:, 1:, :] - padded[:, :-1, :]).abs().flatten(1).sum(1) \
        + (padded[:, :, 1:] - padded[:, :, :-1]).abs().flatten(1).sum(1)
    thickness = 2.0 * area / edges.clamp(min=1.0)
    rows = torch.arange(h, dtype=torch.float32).view(1, h, 1).expand_as(p)
    cols = torch.arange(w, dtype=torch.float32).view(1, 1, w).expand_as(p)
    mass = p.flatten(1).sum(1).clamp(min=1e-6)
    cy = (p * rows).flatten(1).sum(1) / mass
    cx = (p * cols).flatten(1).sum(1) / mass
    dy, dx = rows - cy.view(n, 1, 1), cols - cx.view(n, 1, 1)
    var_y = (p * dy * dy).flatten(1).sum(1) / mass
    cov = (p * dx * dy).flatten(1).sum(1) / mass
    slant = -cov / var_y.clamp(min=1e-6)
    inked = mask.amax(dim=2) > 0  # (n, h): rows holding ink
    idx = torch.arange(h).expand(n, h)
    top = torch.where(inked, idx, h).amin(1)
    bottom = torch.where(inked, idx, -1).amax(1)
    height = (bottom - top + 1).clamp(min=0).float()
    return {
        "thickness": thickness * scale,
        "slant": slant,
        "size": height * scale,
        "horizontal": (cx + 0.5) * scale - 0.5,
        "vertical": (cy + 0.5) * scale - 0.5,
    }


def classify(values: dict[str, Tensor]) -> dict[str, Tensor]:
    """Each measured value's bin, ``{name: (n,) long in 0..2}`` (see :data:`BINS`)."""
    out = {}
    for name, v in values.items():
        low, high = THRESHOLDS[name]
        out[name] = (v >= low).long() + (v >= high).long()
    return out


def attributes(x: Tensor) -> Tensor:
    """``(n, 5)`` bins of :data:`NAMES` for images ``x``: :func:`measure` then :func:`classify`."""
    bins = classify(measure(x))
    return torch.stack([bins[name] for name in NAMES], dim=1)
