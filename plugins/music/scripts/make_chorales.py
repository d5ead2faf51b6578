"""Parse every Bach chorale in music21's corpus and write genloom_music/chorales.npz.

    python plugins/music/scripts/make_chorales.py        # ~2 minutes on one core

The file holds, for each kept chorale, its four voices on a sixteenth-note grid
(``genloom_music.chorale_parse.parse_chorale``: MIDI pitches, 0 = rest, transposed to
C major / A minor), concatenated along time, plus names, modes and transpositions, and
the music21 version it was made with. The ``chorales`` dataset reads it, so training
never parses MusicXML; ``tests/test_music_chorales.py`` re-parses two chorales and
checks they match.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

from genloom_music.chorale_parse import Skipped, chorale_files, parse_chorale
from genloom_music.corpus import music21_version


def main(out: Path) -> None:
    kept, skipped = [], collections.Counter()
    for path in chorale_files():
        try:
            kept.append(parse_chorale(path))
        except Skipped as exc:
            skipped[str(exc)] += 1
    starts = np.cumsum([0] + [c.pitches.shape[1] for c in kept]).astype(np.int32)
    np.savez_compressed(
        out,
        pitches=np.concatenate([c.pitches for c in kept], axis=1).astype(np.int8),
        starts=starts,
        names=np.array([c.name for c in kept]),
        modes=np.array([c.mode == "minor" for c in kept], dtype=np.int8),
        shifts=np.array([c.shift for c in kept], dtype=np.int8),
        music21=np.array(music21_version()),
    )
    print(f"kept {len(kept)} chorales ({starts[-1]} sixteenth steps) in {out} "
          f"({out.stat().st_size // 1024} KiB); skipped {sum(skipped.values())}: "
          + ", ".join(f"{why} ({n})" for why, n in skipped.most_common()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[1] / "genloom_music" / "chorales.npz")
