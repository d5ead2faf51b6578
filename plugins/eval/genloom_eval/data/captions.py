"""Captions for digit images from their label and measured attributes, deterministic.

A caption names the digit (as a word or a numeral) and a random subset of the attributes
:mod:`genloom_eval.data.attributes` measured on the image, in one of three phrasings
(:data:`TEMPLATES`), e.g. ``"a thick 7 leaning right, at the top left"`` or
``"the digit seven, thin and small, upright"``. The randomness comes from a
``numpy.random.Generator`` the caller seeds (per image: the dataset seeds it with
``(seed, index)``), so the same image always gets the same captions. Every caption uses
lower-case letters, digits, spaces, commas and hyphens only (:data:`ALPHABET`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genloom_eval.data.attributes import BINS, NAMES

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: every character a caption may hold
ALPHABET = " ,-0123456789abcdefghijklmnopqrstuvwxyz"
SLANT = {"left": "leaning left", "upright": "upright", "right": "leaning right"}
TEMPLATES = ("a {adj}{digit}{slant}{where}", "the digit {digit}{adj_list}{slant}{where}",
             "{adj}{digit}{slant}{where}")


@dataclass(frozen=True)
class Caption:
    """A caption's text, the digit it names and the attribute bins it asks for."""

    text: str
    digit: int
    asked: dict[str, int]


def position(asked: dict[str, int]) -> str:
    """``"top left"``, ``"centre"``, ``"bottom"`` ... for the asked position bins."""
    v = BINS["vertical"][asked["vertical"]] if "vertical" in asked else None
    h = BINS["horizontal"][asked["horizontal"]] if "horizontal" in asked else None
    if v == "middle" and h in (None, "centre"):
        return "centre"
    if h == "centre" and v is None:
        return "centre"
    return " ".join(w for w in (v, h) if w is not None)


def describe(digit: int, bins: dict[str, int] | np.ndarray, rng: np.random.Generator,
             keep: float = 0.5, always: tuple[str, ...] = ()) -> Caption:
    """One caption of ``digit`` with attribute ``bins`` (``{name: bin}`` or a row in
    :data:`NAMES` order): each attribute is told with probability ``keep`` (those in
    ``always`` every time), in a phrasing and digit form drawn from ``rng``."""
    if not isinstance(bins, dict):
        bins = {name: int(b) for name, b in zip(NAMES, bins)}
    told = rng.random(len(NAMES)) < keep
    asked = {name: int(bins[name]) for name, t in zip(NAMES, told) if t or name in always}
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    digit_text = WORDS[digit] if rng.random() < 0.5 else str(digit)
    adjs = [BINS[name][asked[name]] for name in ("thickness", "size") if name in asked]
    where = position(asked)
    fields = {
        "digit": digit_text,
        "adj": "".join(a + " " for a in adjs),
        "adj_list": (", " + " and ".join(adjs)) if adjs else "",
        "slant": (" " + SLANT[BINS["slant"][asked["slant"]]]) if "slant" in asked else "",
        "where": (", at the " + where) if where else "",
    }
    if template.startswith("the digit"):
        fields["adj"] = ""
        if fields["slant"]:
            fields["slant"] = "," + fields["slant"]
    else:
        fields["adj_list"] = ""
    text = template.format(**fields)
    if template.startswith("a ") and text[2:3] in "aeiou" and not text[2:].startswith("one"):
        text = "an " + text[2:]
    return Caption(text, digit, asked)
