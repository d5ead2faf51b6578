"""``text_encoder:chars``: a small transformer encoder over the characters of a prompt.

A text encoder turns prompts into token states that another model attends to (a
text-to-image denoiser's cross-attention). This one owns its vocabulary: the characters
of ``alphabet`` (ids 1..), with 0 as padding, so its ids mean the same in every run and
no tokenizer state needs saving. :meth:`CharEncoder.tokenize` lower-cases a prompt and
collapses its whitespace; a character outside the alphabet or a prompt longer than
``context`` is a one-line :class:`~genloom.errors.ConfigError`, never a silent truncation.

``forward(tokens)`` returns ``(states, mask)``: ``(n, <= context + 1, dim)`` states, the first
of them a learned start token that every prompt has (columns of padding after the
longest prompt are dropped, so ``states`` may be shorter) (so an empty prompt, all padding, is
a valid input: what classifier-free guidance feeds as "no prompt"), and ``(n, context + 1)``
True where a state is a real token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError

DEFAULT_ALPHABET = " ,-0123456789abcdefghijklmnopqrstuvwxyz"


class CharEncoder(nn.Module):
    """Character embeddings plus learned positions through a pre-norm transformer encoder."""

    @dataclass
    class Config:
        #: the characters the encoder reads (ids 1..len); prompts are lower-cased first
        alphabet: str = DEFAULT_ALPHABET
        #: the longest prompt, in characters
        context: int = field(default=96, metadata={"min": 1, "max": 4096})
        dim: int = field(default=64, metadata={"min": 8})
        layers: int = field(default=2, metadata={"min": 0})
        heads: int = field(default=4, metadata={"min": 1})

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        alphabet = str(cfg.alphabet)
        if not alphabet or len(set(alphabet)) != len(alphabet):
            raise ConfigError(f"text_encoder.alphabet must be distinct characters, got {alphabet!r}")
        if cfg.dim % cfg.heads:
            raise ConfigError(f"text_encoder.dim={cfg.dim} must be a multiple of heads={cfg.heads}")
        self.alphabet, self.context, self.dim = alphabet, int(cfg.context), int(cfg.dim)
        self.ids = {ch: i + 1 for i, ch in enumerate(alphabet)}
        table = torch.full((256,), -1, dtype=torch.long)
        table[0] = 0
        for ch, i in self.ids.items():
            if ord(ch) < 256:
                table[ord(ch)] = i
        self.register_buffer("byte_ids", table, persistent=False)
        self.embed = nn.Embedding(len(alphabet) + 1, self.dim, padding_idx=0)
        self.start = nn.Parameter(torch.randn(self.dim) * 0.02)
        self.position = nn.Parameter(torch.randn(self.context + 1, self.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(self.dim, int(cfg.heads), 4 * self.dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, int(cfg.layers), enable_nested_tensor=False) \
            if cfg.layers else None
        self.norm = nn.LayerNorm(self.dim)

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet) + 1

    def normalise(self, text: str) -> str:
        """Lower-case, whitespace collapsed to single spaces, stripped."""
        return " ".join(text.lower().split())

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """``(n, context)`` ids of ``texts``, zero-padded; one-line errors for bad prompts."""
        out = torch.zeros(len(texts), self.context, dtype=torch.long)
        for row, raw in enumerate(texts):
            text = self.normalise(raw)
            bad = sorted({ch for ch in text if ch not in self.ids})
            if bad:
                raise ConfigError(
                    f"prompt {raw!r} has characters the text encoder does not know: "
                    f"{''.join(bad)!r}; use only {self.alphabet!r}"
                )
            if len(text) > self.context:
                raise ConfigError(
                    f"prompt {raw!r} is {len(text)} characters; the text encoder reads at most "
                    f"{self.context}: shorten it"
                )
            out[row, : len(text)] = torch.tensor([self.ids[ch] for ch in text], dtype=torch.long)
        return out

    def tokenize_bytes(self, data: Tensor) -> Tensor:
        """``(n, context)`` ids of zero-padded UTF-8 bytes ``(n, length)`` (a dataset's
        captions), by table lookup; bytes outside the alphabet or captions longer than
        ``context`` are a ConfigError."""
        ids = self.byte_ids[data.long()]
        if bool((ids < 0).any()):
            raise ConfigError("captions hold characters outside text_encoder.alphabet; add them to it")
        length = int((data != 0).sum(1).max()) if len(data) else 0
        if length > self.context:
            raise ConfigError(f"captions are up to {length} characters; set "
                              f"model.text_encoder.context={length} or more")
        ids = ids[:, : self.context]
        return torch.nn.functional.pad(ids, (0, self.context - ids.shape[1]))

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """``(states (n, context + 1, dim), mask (n, context + 1))`` for ids ``(n, <= context)``."""
        n = len(tokens)
        used = int((tokens != 0).any(0).nonzero().max()) + 1 if bool((tokens != 0).any()) else 0
        tokens = tokens[:, :used]  # trailing padding changes nothing (it is masked): skip it
        length = used
        h = torch.cat([self.start.expand(n, 1, self.dim), self.embed(tokens)], dim=1)
        h = h + self.position[: length + 1]
        mask = torch.cat([torch.ones(n, 1, dtype=torch.bool, device=tokens.device), tokens != 0], dim=1)
        if self.layers is not None:
            h = self.layers(h, src_key_padding_mask=~mask)
        return self.norm(h), mask
