"""``chorales``: Bach's four-part chorales as ``(4, 32, 32)`` piano rolls, labelled by mode.

An example is two bars of 4/4 (32 sixteenth-note steps) of one chorale: channel ``v``
is voice ``v`` (soprano, alto, tenor, bass), row ``p`` of it the MIDI pitch
``BASES[v] + p`` (each voice its own 32-semitone window, which covers 99.5% of its
notes after transposition to C major / A minor), value +1 where the voice sounds that
pitch and -1 elsewhere; a rest is a column of -1. Windows start on every bar line
(``hop`` steps apart); a window where a voice leaves its range is dropped. Labels are
the chorale's mode (0 major, 1 minor). Splits are by chorale, so no held-out window
overlaps a training one.

The voices come from ``chorales.npz``, shipped with the plugin and made from
music21's corpus by ``scripts/make_chorales.py`` (parsing 400 MusicXML scores takes
minutes; reading the array takes milliseconds), so this dataset does not need music21.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from genloom import ConfigError, DataInfo
from genloom.data.base import TensorBatches

from genloom_music.notes import Note

#: lowest MIDI pitch of each voice's window: soprano, alto, tenor, bass
BASES = (55, 48, 43, 36)
PITCHES = 32
STEPS = 32
#: a grid step in quarter notes (a sixteenth note)
STEP = 0.25
MODES = ("major", "minor")
DATA = Path(__file__).with_name("chorales.npz")


@dataclass
class ChoraleArrays:
    """The shipped chorales: voices per chorale ``(4, steps)`` (MIDI, 0 = rest), modes, names."""

    voices: list[np.ndarray]
    modes: np.ndarray
    names: list[str]
    music21: str


def load_chorales(path: Path = DATA) -> ChoraleArrays:
    if not path.is_file():
        raise ConfigError(f"'{path}' is missing; make it with plugins/music/scripts/make_chorales.py")
    with np.load(path) as f:
        starts = f["starts"]
        pitches = f["pitches"]
        voices = [pitches[:, a:b] for a, b in zip(starts[:-1], starts[1:])]
        return ChoraleArrays(voices, f["modes"].astype(np.int64), [str(n) for n in f["names"]],
                             str(f["music21"]))


def voices_to_roll(voices: np.ndarray) -> np.ndarray | None:
    """``(4, steps)`` MIDI pitches (0 = rest) as a ``(4, steps, 32)`` roll in {-1, 1}, or
    None when a voice leaves its window."""
    steps = voices.shape[1]
    roll = -np.ones((4, steps, PITCHES), dtype=np.float32)
    for v in range(4):
        sounding = voices[v] > 0
        index = voices[v].astype(np.int64) - BASES[v]
        if ((index < 0) | (index >= PITCHES))[sounding].any():
            return None
        t = np.nonzero(sounding)[0]
        roll[v, t, index[t]] = 1.0
    return roll


def roll_to_voices(roll: np.ndarray | Tensor) -> np.ndarray:
    """A ``(4, steps, 32)`` roll as ``(4, steps)`` MIDI pitches (0 = rest).

    A value ``x`` in [-1, 1] is read as the probability ``(x + 1) / 2`` that the pitch
    sounds (what a model trained with squared error on {-1, 1} predicts), and the rest
    gets what is left, ``1 - sum``; each voice and step takes the most probable of its
    32 pitches and the rest. A clean roll reads back exactly; a blurry one (a VAE's
    mean) gives its most likely pitch instead of silence.
    """
    roll = np.asarray(roll.detach().cpu() if isinstance(roll, Tensor) else roll, dtype=np.float64)
    prob = (np.clip(roll, -1, 1) + 1) / 2
    best = prob.argmax(axis=2)
    on = prob.max(axis=2) > 1 - prob.sum(axis=2)
    bases = np.asarray(BASES[: roll.shape[0]])[:, None]
    return np.where(on, best + bases, 0).astype(np.int64)


def voices_to_notes(voices: np.ndarray, step: float = STEP) -> list[Note]:
    """Notes of ``(voices, steps)`` pitches: a run of equal pitches in a voice is one note
    (the grid cannot tell a held note from a repeated one)."""
    notes = []
    for v, line in enumerate(np.asarray(voices)):
        t = 0
        while t < len(line):
            p = int(line[t])
            u = t + 1
            while u < len(line) and line[u] == p:
                u += 1
            if p > 0:
                notes.append(Note(t * step, (u - t) * step, p, v))
            t = u
    return sorted(notes, key=lambda n: (n.onset, n.voice))


def notes_to_voices(notes: list[Note], steps: int, step: float = STEP) -> np.ndarray:
    """The inverse of :func:`voices_to_notes` (onsets and ends rounded to the grid)."""
    out = np.zeros((4, steps), dtype=np.int64)
    for n in notes:
        a, b = int(round(n.onset / step)), int(round(n.end / step))
        if 0 <= n.voice < 4:
            out[n.voice, a : min(b, steps)] = n.pitch
    return out


class RollWindows(TensorBatches):
    """Rolls and their labels as the core's in-memory batches, plus the chorale each
    window comes from (``chorale``), which shows that splits keep chorales apart."""

    def __init__(self, x: Tensor, y: Tensor, chorale: Tensor) -> None:
        super().__init__(x, y)
        self.chorale = chorale


class Chorales:
    """Two-bar windows of Bach chorales as piano rolls, labelled major/minor."""

    @dataclass
    class Config:
        #: steps between the starts of consecutive windows (16: one bar)
        hop: int = 16

    def __init__(self, cfg: Any) -> None:
        if cfg.hop < 1:
            raise ConfigError(f"data.hop must be at least 1, got {cfg.hop}")
        self.cfg = cfg

    @property
    def info(self) -> DataInfo:
        return DataInfo(kind="pianoroll", shape=(4, STEPS, PITCHES), num_classes=2,
                        class_names=list(MODES))

    def windows(self, voices: np.ndarray) -> list[np.ndarray]:
        """The in-range rolls of one chorale's ``(4, steps)`` voices."""
        out = []
        for start in range(0, voices.shape[1] - STEPS + 1, self.cfg.hop):
            roll = voices_to_roll(voices[:, start : start + STEPS])
            if roll is not None:
                out.append(roll)
        return out

    def splits(self, val_fraction: float, test_fraction: float, seed: int) -> dict[str, Dataset]:
        data = load_chorales()
        n = len(data.voices)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
        n_test, n_val = round(n * test_fraction), round(n * val_fraction)
        parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val],
                 "train": order[n_test + n_val :]}
        out = {}
        for name, chorales in parts.items():
            rolls, labels, owner = [], [], []
            for c in chorales:
                ws = self.windows(data.voices[c])
                rolls += ws
                labels += [int(data.modes[c])] * len(ws)
                owner += [c] * len(ws)
            x = torch.from_numpy(np.stack(rolls)) if rolls else torch.zeros(0, 4, STEPS, PITCHES)
            out[name] = RollWindows(x, torch.tensor(labels, dtype=torch.long),
                                    torch.tensor(owner, dtype=torch.long))
        return out
