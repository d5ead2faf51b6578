"""``transformer``: a decoder-only transformer trained by the core's LanguageModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genloom import DataInfo, LanguageModel
from genloom_transformer.network import Transformer


class TransformerLM(LanguageModel):
    """Next-token cross-entropy on a :class:`Transformer`; sampled by the core's decoders."""

    @dataclass
    class Config:
        width: int = 128
        layers: int = 4
        heads: int = 4
        dropout: float = 0.0
        #: "learned" (a position embedding) or "rotary" (RoPE on queries and keys)
        positions: str = "learned"
        #: longest sequence the model attends over; 0: the data's block_size
        context_length: int = 0

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        context = cfg.context_length or self.block_size
        if context < self.block_size:
            raise ValueError(
                f"model.context_length={context} is shorter than data.block_size={self.block_size}"
            )
        self.net = Transformer(
            info.vocab_size, context, width=cfg.width, layers=cfg.layers, heads=cfg.heads,
            dropout=cfg.dropout, positions=cfg.positions,
        )
