"""``hf``: a Hugging Face ``tokenizer.json`` (the ``tokenizers`` library) as a genloom tokenizer.

The tokenizer of a model imported from the Hugging Face layout (``genloom import-hf``):
its ids are the pretrained model's, so it is never fitted to a corpus. Encoding is what
``transformers``' tokenizer does by default (the file's post-processor adds the model's
special tokens, such as Llama's BOS); decoding skips special tokens. The state saved in
checkpoints and exports is the file's JSON text: parsed as data by ``tokenizers``, no
code runs. Needs ``pip install 'genloom-text[bpe]'`` (the ``tokenizers`` package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genloom.errors import GenloomError

#: a tokenizer.json larger than this is refused before it is read (real ones are < 20 MB)
MAX_BYTES = 64 * 2**20


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise GenloomError(
            "the hf tokenizer needs the 'tokenizers' package: pip install 'genloom-text[bpe]'"
        ) from None
    return tokenizers


class HFTokenizer:
    """A ``tokenizers.Tokenizer`` read from a ``tokenizer.json``."""

    name = "hf"

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    @classmethod
    def from_file(cls, path: str | Path) -> HFTokenizer:
        """Read ``tokenizer.json``; a damaged or oversized file is a one-line error."""
        p = Path(path)
        if not p.is_file():
            raise GenloomError(f"'{p}' does not exist; the folder needs the model's tokenizer.json")
        if p.stat().st_size > MAX_BYTES:
            raise GenloomError(f"'{p}' is over {MAX_BYTES // 2**20} MB; no tokenizer.json is that large")
        return cls.from_json(p.read_text(encoding="utf-8"), str(p))

    @classmethod
    def from_json(cls, text: str, where: str = "the saved tokenizer") -> HFTokenizer:
        try:
            return cls(_tokenizers().Tokenizer.from_str(text))
        except Exception as exc:  # tokenizers raises its own Exception subclass
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GenloomError(f"{where} is not a tokenizer.json the tokenizers library reads: {first}") from None

    @classmethod
    def fit(cls, text: str, **_: Any) -> HFTokenizer:
        raise GenloomError(
            "the hf tokenizer belongs to an imported model and is not fitted to a corpus; "
            "fine-tune the imported model (genloom align finetune) instead of data.tokenizer=hf"
        )

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=True)

    def to_json(self) -> str:
        """The ``tokenizer.json`` text (what :meth:`from_json` reads)."""
        return self._tok.to_str()

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "json": self._tok.to_str()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> HFTokenizer:
        if not isinstance(state.get("json"), str):
            raise GenloomError("the saved hf tokenizer has no 'json' text; import the model again")
        return cls.from_json(state["json"])
