"""Piano-roll pictures: each piece a panel of time (x) by pitch (y), one colour per voice."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from genloom_music.notes import Note, end_time

COLOURS = np.array([(200, 40, 40), (40, 120, 200), (40, 160, 70), (150, 80, 180)], dtype=np.uint8)


def roll_image(notes: list[Note], *, low: int, high: int, steps: int, step: float = 0.25,
               cell: int = 4) -> np.ndarray:
    """One piece as an RGB ``uint8`` array: ``steps`` columns of ``step`` quarter notes,
    rows for pitches ``low..high`` (high at the top); octaves (C) drawn as grey lines."""
    rows = high - low + 1
    img = np.full((rows * cell, steps * cell, 3), 255, dtype=np.uint8)
    for p in range(low, high + 1):
        if p % 12 == 0:
            y = (high - p) * cell + cell - 1
            img[y, :] = 215
    for beat in range(0, steps, int(round(1 / step))):
        img[:, beat * cell] = np.minimum(img[:, beat * cell], 235)
    for n in notes:
        if not low <= n.pitch <= high:
            continue
        y = (high - n.pitch) * cell
        a, b = int(round(n.onset / step)), int(round(n.end / step))
        a, b = min(a, steps), min(max(b, a + 1), steps)
        img[y + 1 : y + cell - 1, a * cell + 1 : b * cell] = COLOURS[n.voice % len(COLOURS)]
    return img


def write_png(pieces: list[list[Note]], path: str | Path, *, step: float = 0.25, pad: int = 6) -> None:
    """Write the pieces as panels stacked vertically (up to 2 columns) on one PNG."""
    from PIL import Image

    sounding = [n.pitch for notes in pieces for n in notes]
    low = (min(sounding, default=60) - 2) if sounding else 58
    high = (max(sounding, default=72) + 2) if sounding else 74
    steps = max(8, max(int(math.ceil(end_time(notes) / step)) for notes in pieces) if pieces else 8)
    panels = [roll_image(notes, low=low, high=high, steps=steps, step=step) for notes in pieces] or [
        roll_image([], low=low, high=high, steps=steps, step=step)
    ]
    h, w, _ = panels[0].shape
    cols = 1 if w > 600 or len(panels) == 1 else 2
    rows = math.ceil(len(panels) / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 120, dtype=np.uint8)
    for i, panel in enumerate(panels):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = panel
    Image.fromarray(grid).save(path)
