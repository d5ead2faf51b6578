"""Text tokenizers: ``char`` (the corpus's own characters) and ``byte`` (UTF-8, 256 ids).

A tokenizer component is a class with ``fit(text)`` and ``from_state(state)``
class methods, ``encode``, ``decode``, ``state()`` and ``vocab_size``. Its state is a
plain dict naming the component, stored in every checkpoint, so sampling decodes
with the exact vocabulary the model was trained on. A tokenizer that can say how
many characters of text its ids stand for is :class:`CountsChars` (bits per character).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from genloom.errors import GenloomError


@runtime_checkable
class CountsChars(Protocol):
    """A tokenizer that counts the characters its ids stand for: what
    ``LanguageModel``'s bits per character reads (``char``, ``byte`` and ``bpe`` do)."""

    def count_chars(self, ids: Any) -> Any:
        """Characters of text per row of ``ids`` (a tensor of the same leading shape)."""
        ...


class CharTokenizer:
    """One id per distinct character of the training corpus, in sorted order.

    Characters never seen in training cannot be encoded: that is an error naming them,
    because silently dropping them would change the prompt.
    """

    name = "char"

    def __init__(self, chars: list[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        missing = sorted({c for c in text if c not in self.index})
        if missing:
            raise GenloomError(
                f"characters {''.join(missing)!r} are not in this model's vocabulary of "
                f"{self.vocab_size} characters; remove them from the text"
            )
        return [self.index[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def count_chars(self, ids: Any) -> Any:
        """Characters that a tensor of ids stands for: one each (for bits per character)."""
        return ids.new_tensor(ids.numel())

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "chars": self.chars}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CharTokenizer:
        return cls(state["chars"])


class ByteTokenizer:
    """UTF-8 bytes: any text encodes; decoding replaces broken sequences."""

    name = "byte"
    vocab_size = 256

    @classmethod
    def fit(cls, text: str) -> ByteTokenizer:
        return cls()

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    def count_chars(self, ids: Any) -> Any:
        """Characters that a tensor of byte ids stands for: the bytes that start one
        (UTF-8 continuation bytes are 0b10xxxxxx)."""
        return ((ids & 0xC0) != 0x80).sum()

    def state(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ByteTokenizer:
        return cls()


def tokenizer_from_state(state: dict[str, Any]) -> Any:
    """Rebuild a tokenizer saved with ``state()``, through the registry."""
    from genloom.plugins import get_registry

    if not state.get("name"):
        raise GenloomError("the checkpoint's tokenizer state has no 'name'")
    return get_registry().load("tokenizer", state["name"]).from_state(state)
