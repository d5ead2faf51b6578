"""The note list every output and metric of this plugin reads.

ABC tunes and piano rolls are both turned into :class:`Note` lists, so MIDI, WAV, the
piano-roll picture and the music metrics are written once, for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """One sounding note: onset and duration in quarter notes, MIDI pitch, voice index."""

    onset: float
    duration: float
    pitch: int
    voice: int = 0

    @property
    def end(self) -> float:
        return self.onset + self.duration


def end_time(notes: list[Note]) -> float:
    """Where the last note stops, in quarter notes (0 for no notes)."""
    return max((n.end for n in notes), default=0.0)


def concatenate(pieces: list[list[Note]], gap: float = 2.0) -> list[Note]:
    """Pieces one after another, ``gap`` quarter notes of silence between them."""
    out: list[Note] = []
    start = 0.0
    for notes in pieces:
        out += [Note(n.onset + start, n.duration, n.pitch, n.voice) for n in notes]
        start += end_time(notes) + gap
    return out
