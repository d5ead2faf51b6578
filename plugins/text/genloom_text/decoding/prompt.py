"""From a prompt string to token ids, with the tokenizer saved in the model's checkpoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom.capabilities import HasStartTokens
from genloom.errors import ConfigError


def tokenizer_of(model: Any) -> Any | None:
    """The tokenizer the model was trained with (from ``model.info``), or None."""
    info = getattr(model, "info", None)
    state = getattr(info, "tokenizer", None)
    if not state:
        return None
    from genloom_text.tokenizers import tokenizer_from_state

    return tokenizer_from_state(state)


def start_ids(tokenizer: Any) -> list[int]:
    """What generation starts from when there is no prompt: a newline, like the start of
    a line of the corpus (id 0 when the vocabulary has no single-token newline)."""
    if tokenizer is not None:
        try:
            ids = tokenizer.encode("\n")
        except Exception:  # a char vocabulary without "\n"
            ids = []
        if len(ids) == 1:
            return ids
    return [0]


def encode_prompt(model: Any, prompt: str, vocab_size: int) -> Tensor:
    """``(1, t)`` ids of ``prompt``; characters the vocabulary lacks are a one-line error
    (raised by the tokenizer). An empty prompt gives the model's ``start_tokens`` (a
    list of ids, e.g. a BOS token, for models with
    :class:`genloom.capabilities.HasStartTokens`) or :func:`start_ids`."""
    if not isinstance(prompt, str):
        raise ConfigError(f"prompt={prompt!r} must be a string")
    tokenizer = tokenizer_of(model)
    start = model.start_tokens if isinstance(model, HasStartTokens) else None
    if not prompt and start:  # the model's own start (a BOS token of a latent prior)
        ids = [int(i) for i in start]
    elif not prompt:
        ids = start_ids(tokenizer)
    elif tokenizer is None:
        raise ConfigError("this model has no tokenizer in its checkpoint, so it cannot take a prompt")
    else:
        ids = list(tokenizer.encode(prompt))
        if not ids:
            ids = start_ids(tokenizer)
    if max(ids) >= vocab_size:
        raise ConfigError(f"prompt ids reach {max(ids)}, beyond the model's vocabulary of {vocab_size}")
    return torch.tensor([ids], dtype=torch.long)
