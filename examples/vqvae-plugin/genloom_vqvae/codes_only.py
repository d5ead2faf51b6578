"""A prior's network that never predicts its start token.

A code prior's vocabulary is the ``K`` codes plus a start token (id ``K``) that is
only ever read, at position 0. The wrapped language model would still give the start
token some probability at every position: an untrained prior draws it once in every
``K + 1`` tokens, and a drawn start token is not a code the first stage can decode.
The core's decoding samplers have no option to forbid a token, so the network is
wrapped: its logits for ids ``>= K`` are ``-inf``. Training sees the same mask, so the
loss is the exact negative log-likelihood of a distribution over the ``K`` codes,
and top-k, top-p, temperature, greedy and beam search never pick the start token.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genloom import AutoregressiveGenerator


class CodesOnly(AutoregressiveGenerator):
    """``net``'s logits with every id at or above ``num_codes`` set to ``-inf``.

    Its cache is ``net``'s own, and so is ``select_cache`` where ``net`` has one, so
    beam search and per-row conditions work as they do on ``net``.
    """

    def __init__(self, net: AutoregressiveGenerator, num_codes: int) -> None:
        super().__init__()
        self.net = net
        self.vocab_size, self.context_length = int(net.vocab_size), int(net.context_length)
        self.latent_shape = tuple(getattr(net, "latent_shape", ()))
        self.data_shape = tuple(getattr(net, "data_shape", ()))
        # derived from the config, so not saved
        self.register_buffer("banned", torch.arange(self.vocab_size) >= num_codes, persistent=False)
        custom = getattr(net, "select_cache", None)
        if callable(custom):
            self.select_cache = custom

    def step(self, tokens: Tensor, cache: Any = None, cond: Tensor | None = None) -> tuple[Tensor, Any]:
        logits, cache = self.net.step(tokens, cache, cond)
        return logits.masked_fill(self.banned, float("-inf")), cache
