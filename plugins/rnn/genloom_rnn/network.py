"""An LSTM or GRU over token embeddings whose ``step`` takes and returns its state.

The cache is the recurrent state, stored batch first so the core's decoding can pick
beams with ``index_select(0, ...)``: ``(h, c)`` for an LSTM, ``(h,)`` for a GRU, each
``(batch, layers, hidden)``. There is no context limit: the state summarises the whole
prefix, so ``context_length`` is unbounded.
"""

from __future__ import annotations

import sys

from torch import Tensor, nn

from genloom import AutoregressiveGenerator

State = tuple[Tensor, ...]


class RNN(AutoregressiveGenerator):
    """Embedding -> multi-layer LSTM/GRU -> linear head (tied when sizes allow)."""

    def __init__(
        self,
        vocab_size: int,
        *,
        cell: str = "lstm",
        hidden: int = 256,
        layers: int = 2,
        embedding: int = 0,
        dropout: float = 0.0,
        tie_weights: bool = True,
    ) -> None:
        super().__init__()
        cells = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell not in cells:
            raise ValueError(f"cell='{cell}': choose 'lstm' or 'gru'")
        embedding = embedding or hidden
        if tie_weights and embedding != hidden:
            raise ValueError(
                f"tie_weights needs embedding == hidden ({embedding} != {hidden}); "
                "set tie_weights=false or embedding=0"
            )
        self.vocab_size = vocab_size
        self.context_length = sys.maxsize  # the state carries any prefix
        self.latent_shape, self.data_shape = (), ()
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embedding)
        self.rnn = cells[cell](
            embedding, hidden, num_layers=layers, batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight

    def step(
        self, tokens: Tensor, cache: State | None = None, cond: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Logits ``(n, t, vocab)`` for ``tokens`` ``(n, t)`` continuing from ``cache``."""
        state = None
        if cache is not None:  # batch-first cache -> torch's (layers, batch, hidden)
            parts = tuple(s.transpose(0, 1).contiguous() for s in cache)
            state = parts if self.cell == "lstm" else parts[0]
        out, new = self.rnn(self.drop(self.embed(tokens)), state)
        new = new if isinstance(new, tuple) else (new,)
        return self.head(self.drop(out)), tuple(s.transpose(0, 1) for s in new)
