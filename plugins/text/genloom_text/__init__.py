"""genloom-text: the text library of genloom.

Tokenizers (``char``, ``byte``, ``bpe``), the language-model objective
(:class:`LanguageModel`), decoding samplers (``multinomial``, ``greedy``, ``beam``) with
prompts, stop strings and streaming, the ``text`` and ``shakespeare`` datasets, the
``tokens`` sample kind and the ``copying`` metric. Model plugins (transformer, rnn,
align, music) depend on it and import from it; it registers its components through the
same ``genloom`` entry point as any third-party plugin.

The names below load lazily, so importing this package (as the plugin host does for
``genloom_text.plugin``) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "LanguageModel": "genloom_text.language",
    "tokenizer_from_state": "genloom_text.tokenizers",
    "CharTokenizer": "genloom_text.tokenizers",
    "ByteTokenizer": "genloom_text.tokenizers",
    "Text": "genloom_text.data",
    "TokensKind": "genloom_text.kinds",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genloom_text' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from genloom_text.data import Text
    from genloom_text.kinds import TokensKind
    from genloom_text.language import LanguageModel
    from genloom_text.tokenizers import ByteTokenizer, CharTokenizer, tokenizer_from_state
