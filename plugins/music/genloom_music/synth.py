"""A small additive synthesiser: notes to a mono 16-bit WAV with numpy and ``wave``.

Each note is a few harmonics of its fundamental (equal temperament, A4 = 440 Hz) under
an attack-decay envelope with a short release, so repeated notes are heard as separate
notes; voices are summed and the mix is scaled to peak at 0.8 of full scale. The file
holds ``ceil((end + release) * rate)`` samples, ``end`` being when the last note stops
at ``tempo`` quarter notes per minute.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from genloom_music.notes import Note, end_time

SAMPLE_RATE = 22050
RELEASE = 0.15  # seconds a note rings after its end
HARMONICS = (1.0, 0.45, 0.25, 0.12)


def wav_frames(notes: list[Note], tempo: float, rate: int = SAMPLE_RATE) -> int:
    """Samples in the WAV of ``notes``: the last note's end plus the release."""
    return math.ceil((end_time(notes) * 60.0 / tempo + RELEASE) * rate)


def synthesize(notes: list[Note], tempo: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The mix as float32 in [-0.8, 0.8], ``wav_frames`` samples long."""
    out = np.zeros(wav_frames(notes, tempo, rate), dtype=np.float64)
    seconds = 60.0 / tempo
    for n in notes:
        start = int(round(n.onset * seconds * rate))
        length = max(1, int(round((n.duration * seconds + RELEASE) * rate)))
        length = min(length, len(out) - start)
        if length <= 0:
            continue
        t = np.arange(length) / rate
        freq = 440.0 * 2 ** ((n.pitch - 69) / 12)
        tone = sum(a * np.sin(2 * np.pi * freq * k * t) for k, a in enumerate(HARMONICS, 1)
                   if freq * k < rate / 2)
        held = n.duration * seconds
        attack = np.minimum(t / 0.01, 1.0)
        decay = np.exp(-2.5 * np.minimum(t, held))
        release = np.clip(1 - (t - held) / RELEASE, 0, 1)
        out[start : start + length] += tone * attack * decay * release
    peak = np.abs(out).max()
    if peak > 0:
        out *= 0.8 / peak
    return out.astype(np.float32)


def write_wav(notes: list[Note], path: str | Path, tempo: float, rate: int = SAMPLE_RATE) -> None:
    """Write ``notes`` as a mono 16-bit PCM WAV at ``rate`` Hz."""
    pcm = (synthesize(notes, tempo, rate) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
