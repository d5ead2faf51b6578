"""``transformer``: a decoder-only transformer trained by the core's LanguageModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genloom import ConfigError, DataInfo
from genloom_text import LanguageModel
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
        #: condition on the data's class labels (``batch["y"]``, ``--cond``): a learned
        #: class embedding is added to the token embedding at every position
        conditional: bool = False
        #: biases in the linear layers and LayerNorms (false: none, as nanoGPT's bias=False)
        bias: bool = True

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.conditional and info.num_classes <= 0:
            raise ConfigError(
                "model.conditional=true needs token data with class labels (num_classes > 0)"
            )
        context = cfg.context_length or self.block_size
        if context < self.block_size:
            raise ValueError(
                f"model.context_length={context} is shorter than data.block_size={self.block_size}"
            )
        self.net = Transformer(
            info.vocab_size, context, width=cfg.width, layers=cfg.layers, heads=cfg.heads,
            dropout=cfg.dropout, positions=cfg.positions,
            num_classes=info.num_classes if cfg.conditional else 0, bias=cfg.bias,
        )
