"""Bach chorales from MusicXML to four voices on a sixteenth-note grid (needs music21).

A chorale becomes a ``(4, steps)`` array of MIDI pitches, soprano to bass, one column
per sixteenth note, 0 where a voice rests; a held note fills every step it sounds. The
score is transposed to C major or A minor (the nearest way, at most a tritone) after
music21's key analysis (Krumhansl-Schmuckler), and a pickup is padded with rests so
that bars start every 16 steps. Only 4/4 chorales with one soprano, alto, tenor and
bass part are kept. ``scripts/make_chorales.py`` runs this over music21's corpus once
and ships the result as ``chorales.npz``, because parsing 400 scores takes minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genloom_music.corpus import corpus_dir, import_music21

VOICES = ("soprano", "alto", "tenor", "bass")
STEPS_PER_QUARTER = 4
MODES = ("major", "minor")


@dataclass
class Chorale:
    """One parsed chorale: ``pitches`` ``(4, steps)`` (0 = rest), its mode and shift."""

    name: str
    pitches: np.ndarray
    mode: str
    shift: int


class Skipped(Exception):
    """A score this dataset does not use (not 4/4, not four voices, off the grid)."""


def chorale_files() -> list[Path]:
    """The Bach chorale scores in music21's corpus, sorted by name."""
    folder = corpus_dir("data.name=chorales") / "bach"
    return sorted(p for p in folder.iterdir() if p.suffix in (".mxl", ".xml", ".musicxml"))


def _voice_parts(score: Any) -> list[Any]:
    found: dict[str, Any] = {}
    for part in score.parts:
        label = (part.partName or part.id or "").strip().lower()
        for voice in VOICES:
            if label.startswith(voice):
                if voice in found:
                    raise Skipped(f"two {voice} parts")
                found[voice] = part
    if len(found) != 4:
        raise Skipped(f"voices {sorted(found)}")
    return [found[v] for v in VOICES]


def parse_chorale(path: str | Path) -> Chorale:
    """Parse one MusicXML chorale; raises :class:`Skipped` for scores we do not use."""
    music21 = import_music21("parsing the Bach chorales")
    score = music21.converter.parse(str(path))
    meters = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    if meters != {"4/4"}:
        raise Skipped(f"meter {sorted(meters)}")
    parts = _voice_parts(score)
    key = score.analyze("key")
    target = 0 if key.mode == "major" else 9
    if key.mode not in MODES:
        raise Skipped(f"mode {key.mode}")
    shift = (target - key.tonic.pitchClass + 6) % 12 - 6
    measures = list(parts[0].getElementsByClass("Measure"))
    pad = 0.0
    if measures:
        first = measures[0]
        bar = first.barDuration.quarterLength
        if first.duration.quarterLength < bar:
            pad = bar - first.duration.quarterLength
    end = max(p.highestTime for p in parts) + pad
    steps = int(round(end * STEPS_PER_QUARTER))
    grid = np.zeros((4, steps), dtype=np.int16)
    for v, part in enumerate(parts):
        for n in part.flatten().notes:
            start = (float(n.offset) + pad) * STEPS_PER_QUARTER
            stop = start + float(n.quarterLength) * STEPS_PER_QUARTER
            if n.quarterLength == 0:
                continue  # grace notes
            if abs(start - round(start)) > 1e-6 or abs(stop - round(stop)) > 1e-6:
                raise Skipped("notes off the sixteenth-note grid")
            pitches = [p.midi for p in n.pitches]
            midi = max(pitches) if v < 2 else min(pitches)
            grid[v, int(round(start)) : int(round(stop))] = midi + shift
    return Chorale(Path(path).name, grid.astype(np.int8), key.mode, shift)
