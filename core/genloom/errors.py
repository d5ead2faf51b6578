"""User-facing errors: a :class:`GenloomError` is one line saying what is wrong and how to
fix it, which the CLI prints before exiting 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GenloomError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class ConfigError(GenloomError):
    """The resolved configuration is invalid (unknown key, wrong type, bad value)."""


class ComponentError(GenloomError):
    """A component name is unknown, ambiguous, or its plugin could not provide it."""


class PluginError(GenloomError):
    """A plugin failed to load or violated the hook contract."""


class DivergenceError(GenloomError):
    """Training produced a NaN or infinite loss or weights; the run stopped."""


class CheckpointError(GenloomError):
    """A checkpoint is missing, unreadable or was not written by genloom."""


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``" (did you mean 'x'?)"`` suffix, or an empty string."""
    match = nearest(word, choices)
    return f" (did you mean '{match}'?)" if match else ""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (its type's name when empty), for a one-line error."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
