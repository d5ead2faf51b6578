"""Reading a normalised ABC token line: notes, bars, key, meter, and whether it is valid.

:func:`read_tune` plays a tune's tokens the way an ABC reader does: the key
signature and accidentals that last to the end of the bar give each note its pitch,
the unit length, broken rhythm (``>``) and tuplets (``(3``) give its duration, and
ties join notes of the same pitch. Repeats are not expanded: the notes are the tune
as written.

It also lists what makes a token line not a valid tune (:attr:`Tune.errors`); a
valid tune:

- starts with exactly the headers ``M:``, ``L:``, ``K:`` in that order, and has no
  header or line break after them;
- has at least one note and ends with a bar line;
- has a note or rest on both sides of every broken-rhythm mark, a note before every
  tie, ``p`` notes or rests after every tuplet ``(p`` within the bar, and an ending
  mark (``[1``) only right after a bar line;
- opens a repeat (``|:``) only when none is open, and closes every one it opens.

Sampled lines are read leniently too (defaults ``M:4/4 L:1/8 K:C`` and anything
unplayable skipped), so an invalid sample can still be listened to.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from fractions import Fraction

from genloom_music.abc import (
    BARS,
    BROKEN,
    ENDINGS,
    LETTER_PC,
    NEWLINE,
    TIE,
    TUPLETS,
    key_scale,
    key_signature,
    octave_of,
    parse_duration,
)
from genloom_music.notes import Note

_NOTE = re.compile(r"(\^\^|\^|__|_|=)?([A-Ga-g][,']*)(.*)")
_ACCIDENTAL = {"^^": 2, "^": 1, "__": -2, "_": -1, "=": 0}
#: a tuplet (p puts p notes into the time of q
_TUPLET_TIME = {2: 3, 3: 2, 4: 3}


@dataclass
class Tune:
    """A tune as read from its tokens."""

    meter: str = "4/4"
    unit: str = "1/8"
    key: str = "C"
    #: sounding notes, onset and duration in quarter notes (ties joined)
    notes: list[Note] = field(default_factory=list)
    #: (pitch, duration) of every note as written, for novelty; rests are pitch 0
    events: list[tuple[int, Fraction]] = field(default_factory=list)
    #: length in quarter notes of each stretch between bar lines (the first and last
    #: are often partial: pickups and endings)
    bars: list[Fraction] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def bar_length(self) -> Fraction:
        """A full bar in quarter notes, from ``M:``."""
        num, den = (int(x) for x in self.meter.split("/"))
        return Fraction(4 * num, den)

    @property
    def scale(self) -> set[int]:
        """Pitch classes of the key signature's scale."""
        return key_scale(self.key)


def read_tune(tokens: list[str] | tuple[str, ...]) -> Tune:
    """Read one tune's tokens (see the module docstring); never raises.

    Results are cached by token sequence (metrics read the same training tunes again),
    so treat the returned :class:`Tune` as read-only.
    """
    return _read(tuple(tokens))


@functools.lru_cache(maxsize=16384)
def _read(tokens: tuple[str, ...]) -> Tune:
    tune = Tune()
    errors = tune.errors
    heads = [t for t in tokens[:3]]
    if [h[:2] for h in heads] != ["M:", "L:", "K:"]:
        errors.append("does not start with M:, L:, K:")
    body_start = 3 if not errors else 0
    # headers anywhere set the tune's values (leniently for invalid lines)
    seen: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok[:2] in ("M:", "L:", "K:"):
            if i >= body_start:
                errors.append(f"header {tok} inside the tune")
            name = tok[0]
            if name in seen:
                continue
            seen.add(name)
            value = tok[2:]
            if name == "M":
                tune.meter = value
            elif name == "L":
                tune.unit = value
            else:
                tune.key = value
    try:
        signature = key_signature(tune.key)
    except ValueError:
        errors.append(f"unknown key {tune.key}")
        tune.key, signature = "C", {}
    unit = Fraction(tune.unit) * 4  # quarter notes per unit length
    bar_accidentals: dict[tuple[str, int], int] = {}
    # written events: [pitch or 0, duration in quarters, tied to the next]
    events: list[list] = []
    bar_start = 0
    pending_broken: str | None = None
    tuplet_left, tuplet_factor = 0, Fraction(1)
    repeat_open = False
    prev: str | None = None
    for tok in tokens[body_start:]:
        if tok[:2] in ("M:", "L:", "K:"):
            prev = tok
            continue
        if tok == NEWLINE:
            errors.append("line break inside the tune")
            prev = tok
            continue
        m = _NOTE.fullmatch(tok)
        is_rest = tok.startswith("z")
        if m or is_rest:
            try:
                length = parse_duration(tok[1:] if is_rest else m.group(3)) * unit
            except ValueError:
                errors.append(f"bad token {tok}")
                prev = tok
                continue
            pitch = 0
            if m:
                letter, octave = octave_of(m.group(2))
                if m.group(1) is not None:
                    bar_accidentals[(letter, octave)] = _ACCIDENTAL[m.group(1)]
                alter = bar_accidentals.get((letter, octave), signature.get(letter, 0))
                pitch = 12 * (octave + 1) + LETTER_PC[letter] + alter
            if tuplet_left:
                length *= tuplet_factor
                tuplet_left -= 1
            if pending_broken is not None:
                long_, short = _broken_factors(pending_broken)
                first = events[-1]
                old = first[1]
                first[1] = old * long_
                length *= short
                pending_broken = None
            events.append([pitch, length, False])
        elif tok in BROKEN:
            if not events or prev is None or not (_is_playable(prev)):
                errors.append(f"{tok} without a note before it")
            else:
                pending_broken = tok
        elif tok == TIE:
            if not events or not _is_playable(prev) or events[-1][0] == 0:
                errors.append("tie without a note before it")
            else:
                events[-1][2] = True
        elif tok in TUPLETS:
            if tuplet_left:
                errors.append("tuplet inside a tuplet")
            p = int(tok[1:])
            tuplet_left, tuplet_factor = p, Fraction(_TUPLET_TIME[p], p)
        elif tok in BARS:
            if pending_broken is not None:
                errors.append(f"{pending_broken} without a note after it")
                pending_broken = None
            if tuplet_left:
                errors.append("tuplet cut by a bar line")
                tuplet_left = 0
            tune.bars.append(sum((e[1] for e in events[bar_start:]), Fraction(0)))
            bar_start = len(events)
            bar_accidentals = {}
            if tok == "|:":
                if repeat_open:
                    errors.append("|: inside an open repeat")
                repeat_open = True
            elif tok == ":|":
                repeat_open = False
            elif tok == "::":
                repeat_open = True
        elif tok in ENDINGS:
            if prev not in BARS:
                errors.append(f"ending {tok} not after a bar line")
        else:
            errors.append(f"unknown token {tok!r}")
        prev = tok
    if pending_broken is not None:
        errors.append(f"{pending_broken} without a note after it")
    if tuplet_left:
        errors.append("unfinished tuplet")
    if events[bar_start:]:
        tune.bars.append(sum((e[1] for e in events[bar_start:]), Fraction(0)))
    if repeat_open:
        errors.append("repeat |: never closed")
    if not any(e[0] for e in events):
        errors.append("no notes")
    body = [t for t in tokens[body_start:] if t[:2] not in ("M:", "L:", "K:")]
    if not body or body[-1] not in BARS:
        errors.append("does not end with a bar line")
    tune.events = [(e[0], e[1]) for e in events]
    tune.notes = _sounding(events)
    return tune


def _is_playable(tok: str | None) -> bool:
    return tok is not None and (tok.startswith("z") or _NOTE.fullmatch(tok) is not None)


def _broken_factors(mark: str) -> tuple[Fraction, Fraction]:
    dotted = {1: Fraction(3, 2), 2: Fraction(7, 4)}[len(mark)]
    first, second = dotted, 2 - dotted
    return (first, second) if mark[0] == ">" else (second, first)


def _sounding(events: list[list]) -> list[Note]:
    """Notes with onsets, ties joined into one note when the pitches agree."""
    notes: list[Note] = []
    onset = Fraction(0)
    tied_from: list | None = None  # [onset, duration, pitch] of a note waiting for its tie
    for pitch, length, tied in events:
        if tied_from is not None and pitch == tied_from[2]:
            tied_from[1] += length
        else:
            if tied_from is not None:
                notes.append(Note(float(tied_from[0]), float(tied_from[1]), tied_from[2]))
                tied_from = None
            if pitch:
                tied_from = [onset, length, pitch]
        if tied_from is not None and not tied:
            notes.append(Note(float(tied_from[0]), float(tied_from[1]), tied_from[2]))
            tied_from = None
        onset += length
    if tied_from is not None:
        notes.append(Note(float(tied_from[0]), float(tied_from[1]), tied_from[2]))
    return notes


def abc_text(tokens: list[str], index: int = 1, title: str | None = None) -> str:
    """A tune's tokens as a standard ABC tune (``X:``, ``T:``, header lines, the body).

    An invalid line keeps its tokens as they are, with the reasons as ``%`` comments.
    """
    tune = read_tune(tokens)
    lines = [f"X:{index}", f"T:{title or f'genloom {index}'}"]
    if tune.valid:
        lines += [tokens[0], tokens[1], tokens[2]]
        body = tokens[3:]
    else:
        lines += [f"% invalid: {e}" for e in tune.errors[:3]]
        lines += [f"M:{tune.meter}", f"L:{tune.unit}", f"K:{tune.key}"]
        body = [t for t in tokens if t[:2] not in ("M:", "L:", "K:") and t != NEWLINE]
    # break the body after every 4th bar line so lines stay readable
    out, bars = [], 0
    line: list[str] = []
    for i, tok in enumerate(body):
        line.append(tok)
        if tok in BARS:
            bars += 1
            if bars % 4 == 0 and (i + 1 == len(body) or body[i + 1] not in ENDINGS):
                out.append(" ".join(line))
                line = []
    if line:
        out.append(" ".join(line))
    return "\n".join(lines + out) + "\n"
