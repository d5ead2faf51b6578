"""``bpe``: byte-pair encoding learned from the training corpus, offline.

Training and encoding use the ``tokenizers`` library (``pip install 'genloom-text[bpe]'``),
imported only when a BPE tokenizer is used. Merges never cross a word boundary (the
corpus is split into runs of spaces, words and punctuation first) and every token is
a plain string of the corpus's own characters, so decoding is concatenation and each
token knows how many characters it stands for (bits per character stay exact).
Characters the corpus lacks cannot be encoded: that is an error naming them, as with
``char``. The state saved in checkpoints is the tokenizer's JSON text (no pickle).
"""

from __future__ import annotations

from typing import Any

from genloom.errors import GenloomError

DEFAULT_VOCAB_SIZE = 512
SPLIT = r" ?\w+| ?[^\w\s]+|\s+"


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise GenloomError(
            "the bpe tokenizer needs the 'tokenizers' package: pip install 'genloom-text[bpe]'"
        ) from None
    return tokenizers


class BPETokenizer:
    """A trained ``tokenizers.Tokenizer`` with a BPE model over the corpus's characters."""

    name = "bpe"

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        vocab = tokenizer.get_vocab()
        self.pieces = [""] * len(vocab)
        for piece, i in vocab.items():
            self.pieces[i] = piece
        self.alphabet = {p for p in self.pieces if len(p) == 1}
        self._lengths: Any = None

    @classmethod
    def fit(cls, text: str, vocab_size: int = DEFAULT_VOCAB_SIZE) -> BPETokenizer:
        tk = _tokenizers()
        alphabet = sorted(set(text))
        tok = tk.Tokenizer(tk.models.BPE())
        tok.pre_tokenizer = tk.pre_tokenizers.Split(tk.Regex(SPLIT), behavior="isolated")
        trainer = tk.trainers.BpeTrainer(
            vocab_size=max(vocab_size, len(alphabet)), initial_alphabet=alphabet,
            limit_alphabet=len(alphabet), show_progress=False, special_tokens=[],
        )
        tok.train_from_iterator(text.split("\n"), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    def encode(self, text: str) -> list[int]:
        missing = sorted({c for c in set(text) if c not in self.alphabet})
        if missing:
            raise GenloomError(
                f"characters {''.join(missing)!r} are not in this model's vocabulary "
                f"(bpe over {len(self.alphabet)} characters); remove them from the text"
            )
        return self._tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return "".join(self.pieces[i] for i in ids)

    def count_chars(self, ids: Any) -> Any:
        """Characters that a tensor of ids stands for (for bits per character)."""
        import torch

        if self._lengths is None:
            self._lengths = torch.tensor([len(p) for p in self.pieces])
        return self._lengths.to(ids.device)[ids].sum()

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "json": self._tok.to_str()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BPETokenizer:
        return cls(_tokenizers().Tokenizer.from_str(state["json"]))
