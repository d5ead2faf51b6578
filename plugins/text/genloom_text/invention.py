"""``invention``: how much generated text makes up what its training text never says.

The counterpart of ``copying`` (which measures reciting): the share of the samples'
units that never occur in the training text, next to the same share for as much
held-out text (the *floor*: new real text names things the training text never did,
too). Three units, each counted per occurrence:

* ``invented_words``: words of three or more letters (``[A-Za-z]{3,}``, lower-cased)
  absent from the training text's words. Shorter words are left out: nearly every one-
  and two-letter string occurs somewhere, so they would hide invention.
* ``invented_identifiers``: Python-looking identifiers (a name holding ``_`` or a
  digit, or written ``name(`` or ``.name``) absent from the training text's names: on
  the pydoc corpus, made-up functions, attributes and keywords.
* ``invented_headings``: section headings (a line over an underline of ``*``, ``=``,
  ``-`` or ``~``, as pydoc's topics are titled) whose text does not occur in the
  training text: made-up topic names.

A unit cut by the start or end of a window is skipped (it may be half a word). A key
is reported only when both the samples and the held-out text have some of its units.
High invention far above the floor is fluent-looking text about things that do not
exist in the corpus (hallucination, in a character model's terms); at the floor, the
model names new things as often as new real text does; near 0 with high ``copy_32``,
it recites. Samples and held-out windows are the ones ``copying`` reads (same seed).
"""

from __future__ import annotations

import re
from typing import Any

WORD = re.compile(r"[A-Za-z]+")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADING = re.compile(r"^([^\n]*\S[^\n]*)\n([*=~\-])\2{2,}[ \t]*$", re.MULTILINE)
MIN_WORD = 3


def _inside(match: re.Match[str], text: str) -> bool:
    """Whether ``match`` is not cut by the text's ends (a window may split a word)."""
    return match.start() > 0 and match.end() < len(text)


def words(text: str, whole: bool = False) -> list[str]:
    """Lower-cased words of ``MIN_WORD`` or more letters (``whole``: edges kept)."""
    return [m.group().lower() for m in WORD.finditer(text)
            if len(m.group()) >= MIN_WORD and (whole or _inside(m, text))]


def identifiers(text: str) -> list[str]:
    """Names that look like code: holding ``_`` or a digit, or written ``name(``/``.name``."""
    out = []
    for m in NAME.finditer(text):
        name = m.group()
        if not _inside(m, text):
            continue
        code_like = "_" in name or any(c.isdigit() for c in name)
        if code_like or text[m.end()] == "(" or text[m.start() - 1] == ".":
            out.append(name)
    return out


def headings(text: str) -> list[str]:
    """Section titles: a line followed by an underline of ``*``, ``=``, ``-`` or ``~``."""
    return [m.group(1).strip() for m in HEADING.finditer(text) if m.start() > 0 and m.end() < len(text)]


def invention_rates(texts: list[str], training: list[str]) -> dict[str, float]:
    """Share of ``texts``' words, identifiers and headings never in ``training``; a unit
    ``texts`` does not contain is left out of the result."""
    corpus = "\n".join(training)
    known_words = set(words(corpus, whole=True))
    known_names = set(NAME.findall(corpus))
    rates: dict[str, float] = {}
    units = {
        "words": ([w for t in texts for w in words(t)], known_words.__contains__),
        "identifiers": ([n for t in texts for n in identifiers(t)], known_names.__contains__),
        "headings": ([h for t in texts for h in headings(t)], lambda h: h in corpus),
    }
    for name, (found, known) in units.items():
        if found:
            rates[name] = sum(not known(u) for u in found) / len(found)
    return rates


class Invention:
    """Share of generated words, identifiers and headings absent from the training text,
    against the same share for held-out text."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        from genloom_text.copying import text_sets

        texts, heldout, training = text_sets(model, datamodule, metric="invention")
        fake, floor = invention_rates(texts, training), invention_rates(heldout, training)
        out: dict[str, float] = {}
        for unit in ("words", "identifiers", "headings"):
            if unit in fake and unit in floor:
                out[f"test/invented_{unit}"] = fake[unit]
                out[f"test/invented_{unit}_floor"] = floor[unit]
        return out
