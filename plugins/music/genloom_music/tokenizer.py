"""``abc``: the ABC tokenizer, one id per ABC symbol of the training tunes.

Tokens are musical symbols, not characters: a header (``M:6/8``, ``L:1/8``,
``K:Dmix``), a note or rest with its duration (``^c3/2``, ``z2``), a bar line or
repeat (``|``, ``|:``, ``:|``), an ending (``[1``), a tuplet (``(3``), a tie, a
broken-rhythm mark, and the line break that separates tunes (generation starts from
it). The vocabulary is every token of the corpus, sorted. ``decode`` writes tokens
separated by single spaces (none around line breaks), which is exactly the normalised
text of the ``folk`` dataset, so ``decode(encode(tune)) == tune``; ``encode`` also
reads ABC typed without spaces (``"|:GAB"``). Text with characters no token covers, or
tokens the vocabulary lacks, is a one-line error naming them. Held-out loss is per
token (``val/bits_per_token``), since tokens are not characters.
"""

from __future__ import annotations

from typing import Any

from genloom import GenloomError

from genloom_music.abc import NEWLINE, join_tokens, lex


class AbcTokenizer:
    """ABC symbols <-> ids (see the module docstring)."""

    #: the registered full name, so checkpoints find this tokenizer whatever else is installed
    name = "music:abc"

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def fit(cls, text: str) -> AbcTokenizer:
        """The vocabulary of ``text`` (normalised tunes, one per line), plus the line break."""
        tokens, leftover = lex(text)
        if leftover.strip():
            raise GenloomError(f"characters {''.join(sorted(set(leftover)))!r} are not ABC tokens")
        return cls(sorted(set(tokens) | {NEWLINE}))

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def lex(self, text: str) -> list[str]:
        """The tokens of ``text``; characters no token covers are an error naming them."""
        tokens, leftover = lex(text)
        if leftover.strip():
            raise GenloomError(
                f"characters {''.join(sorted(set(leftover.strip())))!r} are not ABC tokens "
                "(notes with durations, bar lines, M:/L:/K: headers); remove them from the text"
            )
        return tokens

    def encode(self, text: str) -> list[int]:
        tokens = self.lex(text)
        missing = sorted({t for t in tokens if t not in self.index})
        if missing:
            raise GenloomError(
                f"ABC tokens {' '.join(missing)!r} are not in this model's vocabulary of "
                f"{self.vocab_size} tokens"
            )
        return [self.index[t] for t in tokens]

    def decode(self, ids: list[int]) -> str:
        return join_tokens([self.tokens[i] for i in ids])

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "tokens": self.tokens}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AbcTokenizer:
        return cls(state["tokens"])
