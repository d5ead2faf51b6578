"""ABC notation: cleaning raw tunes into one normalised token line, and the token lexer.

A cleaned tune is one line of tokens separated by single spaces, e.g.::

    M:6/8 L:1/8 K:G |: D | G2 B A G E | ... :|

- three header tokens first, always in this order: meter ``M:`` (``C`` -> ``4/4``,
  ``C|`` -> ``2/2``), unit note length ``L:`` (ABC's default when the tune has none)
  and key ``K:`` (tonic, then ``m``, ``dor``, ``phr``, ``lyd``, ``mix`` or ``loc`` for
  modes other than major);
- notes with their duration as one token: accidental (``^ ^^ _ __ =``), letter, octave
  marks, then the duration in unit lengths as a reduced fraction (``A``, ``A2``,
  ``A/2``, ``A3/2``; ``A/`` and ``A//`` become ``A/2`` and ``A/4``); rests ``z`` alike;
- bar lines ``| || |] |: :| ::`` (``[|`` -> ``||``, ``:||:`` -> ``::``), ending marks
  ``[1 [2`` as tokens of their own after the bar (``:|2`` -> ``:| [2``), tuplets
  ``(2 (3 (4``, ties ``-`` and broken rhythm ``> < >> <<``.

Cleaning drops what a melody model should not have to predict: titles and other
fields, chord symbols and annotations (``"..."``), decorations (``~ . H T !trill!``,
...), grace notes (``{...}``), slurs, spaces (beaming) and line breaks. Tunes that
change key, meter or unit length in the middle, contain chords (``[CEG]``), unusual
tuplets or anything else this grammar lacks are dropped whole (:class:`Dropped`), so a
cleaned tune says exactly what the original melody says.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

#: tune separator and start of generation: one tune per line
NEWLINE = "\n"
MODES = ("", "m", "dor", "phr", "lyd", "mix", "loc")
_MODE_NAMES = {
    "": "", "maj": "", "major": "", "ion": "", "ionian": "",
    "m": "m", "min": "m", "minor": "m", "aeo": "m", "aeolian": "m",
    "dor": "dor", "dorian": "dor", "phr": "phr", "phrygian": "phr", "lyd": "lyd", "lydian": "lyd",
    "mix": "mix", "mixolydian": "mix", "loc": "loc", "locrian": "loc",
}
BARS = ("|", "||", "|]", "|:", ":|", "::")
ENDINGS = ("[1", "[2")
TUPLETS = ("(2", "(3", "(4")
BROKEN = (">", "<", ">>", "<<")
TIE = "-"

_DUR = r"(?:\d+/\d+|\d+|/\d+)?"
_NOTE = r"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*"
#: the lexer of normalised text (and of prompts typed without spaces)
TOKEN = re.compile(
    r"(?P<tok>\n"
    r"|M:\d+/\d+|L:1/\d+|K:[A-G][#b]?(?:mix|dor|phr|lyd|loc|m)?"
    rf"|{_NOTE}{_DUR}|z{_DUR}"
    r"|::|:\||\|:|\|\||\|\]|\|"
    r"|\[[12]|\([234]|>>|<<|[<>]|-)"
    r"|(?P<space>[ \t\r]+)"
)


class Dropped(Exception):
    """A raw tune this cleaning does not keep; the message says why."""


def lex(text: str) -> tuple[list[str], str]:
    """``(tokens, leftover)``: the tokens of ``text`` and the characters no token covers."""
    tokens, leftover, pos = [], [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            leftover.append(text[pos])
            pos += 1
            continue
        if m.group("tok"):
            tokens.append(m.group("tok"))
        pos = m.end()
    return tokens, "".join(leftover)


def join_tokens(tokens: list[str]) -> str:
    """Tokens as normalised text: single spaces between tokens, none around newlines."""
    out: list[str] = []
    for tok in tokens:
        if tok != NEWLINE and out and out[-1] != NEWLINE:
            out.append(" ")
        out.append(tok)
    return "".join(out)


# -- durations, pitches, keys -------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_duration(text: str) -> Fraction:
    """An ABC length multiplier: ``""`` 1, ``3`` 3, ``/`` 1/2, ``//`` 1/4, ``3/`` 3/2, ``3/4``."""
    if not text:
        return Fraction(1)
    m = re.fullmatch(r"(\d*)(/*)(\d*)", text)
    if m is None:
        raise ValueError(f"bad duration {text!r}")
    num = int(m.group(1)) if m.group(1) else 1
    slashes = len(m.group(2))
    if m.group(3):
        if slashes != 1:
            raise ValueError(f"bad duration {text!r}")
        den = int(m.group(3))
    else:
        den = 2**slashes
    if num == 0 or den == 0:
        raise ValueError(f"zero duration {text!r}")
    return Fraction(num, den)


def format_duration(value: Fraction) -> str:
    """The canonical spelling of a length multiplier: ``""``, ``2``, ``/2``, ``3/2``."""
    if value.denominator == 1:
        return "" if value.numerator == 1 else str(value.numerator)
    return (f"/{value.denominator}" if value.numerator == 1
            else f"{value.numerator}/{value.denominator}")


def octave_of(letter_and_marks: str) -> tuple[str, int]:
    """``("C", 4)`` for ``C``, ``("C", 5)`` for ``c``, ``("C", 6)`` for ``c'``, ``("C", 3)`` for ``C,``."""
    letter = letter_and_marks[0]
    octave = (5 if letter.islower() else 4) + letter_and_marks.count("'") - letter_and_marks.count(",")
    return letter.upper(), octave


def spell_pitch(letter: str, octave: int) -> str:
    """The canonical ABC spelling of a letter in an octave (C4 = ``C``, C5 = ``c``)."""
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter.upper() + "," * (4 - octave)


_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F": -1}
_MODE_SHIFT = {"": 0, "lyd": 1, "mix": -1, "dor": -2, "m": -3, "phr": -4, "loc": -5}
_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"
LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def key_signature(key: str) -> dict[str, int]:
    """Letter -> alteration (+1 sharp, -1 flat) of a key token's value, e.g. ``Dmix``."""
    m = re.fullmatch(r"([A-G])([#b]?)(.*)", key)
    if m is None or m.group(3) not in _MODE_SHIFT:
        raise ValueError(f"unknown key {key!r}")
    fifths = _FIFTHS[m.group(1)] + {"": 0, "#": 7, "b": -7}[m.group(2)] + _MODE_SHIFT[m.group(3)]
    if fifths > 7 or fifths < -7:
        raise ValueError(f"key {key!r} needs more than 7 sharps or flats")
    if fifths >= 0:
        return {letter: 1 for letter in _SHARP_ORDER[:fifths]}
    return {letter: -1 for letter in _FLAT_ORDER[:-fifths]}


def key_scale(key: str) -> set[int]:
    """The seven pitch classes of a key token's value (its key signature's scale)."""
    sig = key_signature(key)
    return {(pc + sig.get(letter, 0)) % 12 for letter, pc in LETTER_PC.items()}


def normalise_key(value: str) -> str:
    """``K:`` field value to tonic + canonical mode (``G``, ``Em``, ``Ador``)."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)\s*", value.split("%")[0])
    if m is None:
        raise Dropped(f"key {value.strip()!r}")
    mode = _MODE_NAMES.get(m.group(3).lower())
    if mode is None:
        raise Dropped(f"key {value.strip()!r}")
    key = m.group(1).upper() + m.group(2) + mode
    try:
        key_signature(key)
    except ValueError as exc:
        raise Dropped(str(exc)) from None
    return key


def normalise_meter(value: str) -> str:
    """``M:`` field value to ``num/den`` (``C`` -> ``4/4``, ``C|`` -> ``2/2``)."""
    v = value.split("%")[0].strip()
    if v == "C":
        return "4/4"
    if v == "C|":
        return "2/2"
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", v)
    if m is None or int(m.group(1)) == 0 or int(m.group(2)) not in (1, 2, 4, 8, 16):
        raise Dropped(f"meter {v!r}")
    return f"{int(m.group(1))}/{int(m.group(2))}"


def default_unit(meter: str) -> str:
    """ABC's default unit note length: 1/16 below a meter of 3/4, else 1/8."""
    num, den = (int(x) for x in meter.split("/"))
    return "1/16" if Fraction(num, den) < Fraction(3, 4) else "1/8"


# -- cleaning a raw tune --------------------------------------------------------------


_RAW = re.compile(
    r"(?P<skip>\"[^\"]*\"|![^!\n]*!|\+[^+\s]*\+|\{[^}]*\}|[~.HLMOPSTuv\\`\s]|[()](?![2-9]))"
    r"|(?P<field>\[[A-Za-z]:[^\]]*\])"
    r"|(?P<bar>\[\|:*|:*\|+\]?:*|::+)(?P<ending>\s*\[?[1-9](?![,\-\d]))?"
    r"|(?P<startend>\[[1-9](?![,\-\d]))"
    r"|(?P<chord>\[)"
    r"|(?P<tuplet>\([2-9](?::\d*)*)"
    rf"|(?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g][,']*)(?P<ndur>\d*/*\d*))"
    r"|(?P<rest>[zx](?P<rdur>\d*/*\d*))"
    r"|(?P<tie>-)"
    r"|(?P<broken>[<>]+)"
)


def _bar_token(raw: str) -> str:
    core = raw.strip(":")
    left, right = raw.startswith(":"), raw.endswith(":")
    if left and right:
        return "::"
    if left:
        return ":|"
    if right:
        return "|:"
    if core in ("[|", "||"):
        return "||"
    if core.endswith("]"):
        return "|]"
    if core == "|":
        return "|"
    return "||"


def _length(text: str) -> str:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise Dropped(str(exc)) from None
    if value.denominator > 16 or value > 32:
        raise Dropped(f"duration {text!r}")
    return format_duration(value)


def clean_body(body: str) -> list[str]:
    """The normalised tokens of a raw ABC tune body (see the module docstring)."""
    tokens: list[str] = []
    pos = 0
    while pos < len(body):
        m = _RAW.match(body, pos)
        if m is None:
            raise Dropped(f"unsupported {body[pos]!r}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup not in ("acc", "letter", "ndur", "rdur", "ending") else None
        if m.group("skip") is not None:
            continue
        if m.group("field") is not None:
            raise Dropped(f"inline field {m.group('field')}")
        if m.group("bar") is not None:
            tokens.append(_bar_token(m.group("bar")))
            ending = m.group("ending")
            if ending:
                tokens.append(_ending(ending.strip().lstrip("[")))
            continue
        if m.group("startend") is not None:
            tokens.append(_ending(m.group("startend")[1:]))
            continue
        if m.group("chord") is not None:
            raise Dropped("chords")
        if m.group("tuplet") is not None:
            t = m.group("tuplet")
            if t not in TUPLETS:
                raise Dropped(f"tuplet {t}")
            tokens.append(t)
        elif m.group("note") is not None:
            letter, octave = octave_of(m.group("letter"))
            if not 1 <= octave <= 7:
                raise Dropped("octave")
            tokens.append((m.group("acc") or "") + spell_pitch(letter, octave) + _length(m.group("ndur")))
        elif m.group("rest") is not None:
            tokens.append("z" + _length(m.group("rdur")))
        elif m.group("tie") is not None:
            tokens.append(TIE)
        elif m.group("broken") is not None:
            if m.group("broken") not in BROKEN:
                raise Dropped(f"broken rhythm {m.group('broken')}")
            tokens.append(m.group("broken"))
        else:  # pragma: no cover - every group is handled above
            raise Dropped(f"unhandled {kind}")
    return tokens


def _ending(number: str) -> str:
    token = "[" + number
    if token not in ENDINGS:
        raise Dropped(f"ending {number}")
    return token


def split_tunes(text: str) -> list[tuple[dict[str, str], list[str]]]:
    """Raw tunes of an ABC file: ``(header fields, body lines)``, one per ``X:``."""
    tunes: list[tuple[dict[str, str], list[str]]] = []
    fields: dict[str, str] | None = None
    body: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if re.match(r"X:", stripped):
            fields, body = {}, None
            tunes.append((fields, []))
            continue
        if fields is None or stripped.startswith("%"):
            continue
        if body is None:  # the header, up to and including K:
            m = re.match(r"([A-Za-z]):(.*)", stripped)
            if m:
                fields.setdefault(m.group(1), m.group(2).strip())
                if m.group(1) == "K":
                    body = tunes[-1][1]
            continue
        if not stripped:
            fields, body = None, None
            continue
        body.append(line)
    return [t for t in tunes if "K" in t[0]]


def clean_tune(fields: dict[str, str], body_lines: list[str]) -> list[str]:
    """One raw tune as normalised tokens (header first); raises :class:`Dropped`."""
    for line in body_lines:
        m = re.match(r"\s*([A-Za-z]):", line)
        if m:
            if m.group(1) in "KML":
                raise Dropped(f"{m.group(1)}: inside the tune")
            raise Dropped(f"{m.group(1)}: field inside the tune")
    if "M" not in fields or not fields["M"].strip() or fields["M"].strip().lower() == "none":
        raise Dropped("no meter")
    meter = normalise_meter(fields["M"])
    unit = fields.get("L", "").split("%")[0].replace(" ", "") or default_unit(meter)
    if not re.fullmatch(r"1/(2|4|8|16|32)", unit):
        raise Dropped(f"unit {unit!r}")
    key = normalise_key(fields["K"])
    body = clean_body(" ".join(body_lines))
    return [f"M:{meter}", f"L:{unit}", f"K:{key}", *body]
