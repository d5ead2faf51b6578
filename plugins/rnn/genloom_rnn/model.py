"""``rnn``: an LSTM or GRU language model trained by the core's LanguageModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genloom import DataInfo
from genloom_text import LanguageModel
from genloom_rnn.network import RNN


class RNNLM(LanguageModel):
    """Next-token cross-entropy on an :class:`RNN`; sampled by the core's decoders."""

    @dataclass
    class Config:
        #: "lstm" or "gru"
        cell: str = "lstm"
        hidden: int = 256
        layers: int = 2
        #: embedding size; 0: the hidden size
        embedding: int = 0
        dropout: float = 0.0
        #: share the embedding with the output layer (needs embedding == hidden)
        tie_weights: bool = True

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        self.net = RNN(
            info.vocab_size, cell=cfg.cell, hidden=cfg.hidden, layers=cfg.layers,
            embedding=cfg.embedding, dropout=cfg.dropout, tie_weights=cfg.tie_weights,
        )
