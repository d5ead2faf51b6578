"""Stop strings: end a row once its generated text contains one of them.

Checked on decoded text, not on token ids, because one string may span several
tokens (and with BPE the same string has several tokenizations). The token that
completes a stop string is kept, so the returned text ends with the stop string.
"""

from __future__ import annotations

from typing import Any

from genloom.errors import ConfigError


def parse_stop(stop: Any) -> list[str]:
    """``None``, one string or a list of strings -> a list of non-empty strings."""
    if stop is None or stop == "":
        return []
    items = [stop] if isinstance(stop, str) else list(stop) if isinstance(stop, (list, tuple)) else None
    if items is None or not all(isinstance(s, str) for s in items):
        raise ConfigError(f"stop={stop!r} must be a string or a list of strings")
    return [s for s in items if s]


class StopStrings:
    """Tracks the generated ids of each row and reports when a stop string appears."""

    def __init__(self, tokenizer: Any, stops: list[str], rows: int) -> None:
        if stops and tokenizer is None:
            raise ConfigError("stop strings need a model with a tokenizer to decode its text")
        self.tokenizer, self.stops = tokenizer, stops
        self.generated: list[list[int]] = [[] for _ in range(rows)]
        self._checked = [0] * rows
        self._longest = max((len(s) for s in stops), default=0)

    def __bool__(self) -> bool:
        return bool(self.stops)

    def push(self, row: int, token: int) -> bool:
        """Add ``token`` to ``row``; True when the row's text now contains a stop string."""
        ids = self.generated[row]
        ids.append(token)
        text = self.tokenizer.decode(ids)
        # only text that could hold a stop string not seen before: the new tail
        start = max(0, self._checked[row] - self._longest + 1)
        self._checked[row] = len(text)
        tail = text[start:]
        return any(s in tail for s in self.stops)
