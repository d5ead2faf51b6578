"""Programmatic judges: rules that score a text, standing in for human raters.

A judge is registered under the component kind ``judge`` (so another plugin can add
one) and built as ``cls(**options)``; it has ``score(text) -> float``, higher being
preferred. They are deliberately simple, checkable preferences for demonstrations
and tests, not models of human taste.
"""

from __future__ import annotations

import ast
import re


class Keyword:
    """How often ``word`` occurs (case-sensitive, as a substring)."""

    def __init__(self, word: str = "the") -> None:
        if not word:
            raise ValueError("the keyword judge needs a non-empty word=")
        self.word = word

    def score(self, text: str) -> float:
        return float(text.count(self.word))


class Length:
    """Closeness to ``target`` characters (0 at the target, -1 per character off)."""

    def __init__(self, target: int = 40) -> None:
        self.target = int(target)

    def score(self, text: str) -> float:
        return -abs(len(text) - self.target)


class Parses:
    """1 if the text parses as Python (``ast.parse``: nothing is executed), else 0."""

    def __init__(self) -> None:
        pass

    def score(self, text: str) -> float:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return 0.0
        return 1.0


class Iambic:
    """A metre rule for verse: the share of lines with 8 to 12 syllables (a syllable
    counted as a run of vowels), i.e. lines of about pentameter length."""

    def __init__(self, low: int = 8, high: int = 12) -> None:
        self.low, self.high = int(low), int(high)

    def score(self, text: str) -> float:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return 0.0
        ok = sum(self.low <= len(re.findall(r"[aeiouyAEIOUY]+", line)) <= self.high for line in lines)
        return ok / len(lines)


def build_judge(name: str, options: dict[str, str]):
    """A registered judge by name, with its options; bad names or options are one line."""
    from genloom import ConfigError
    from genloom.plugins import get_registry
    from genloom.errors import ComponentError

    try:
        cls = get_registry().load("judge", name)
    except ComponentError as exc:
        raise ConfigError(f"--judge: {exc}") from None
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--judge {name}: bad option ({exc})") from None
