"""``LanguageModel``: next-token prediction with any :class:`AutoregressiveGenerator`.

The objective every autoregressive plugin shares lives here, so a plugin only builds
its network (``self.net``). Training logs ``train/loss`` (nats per token); validation
logs ``val/loss``, ``val/ppl`` (perplexity, ``exp`` of the split's mean loss) and
``val/bpc``: bits per *character* of the validation text, for every tokenizer that
can count the characters its ids stand for (``count_chars``: char, byte and BPE
can). A tokenizer that cannot gets ``val/bits_per_token`` instead, named honestly.
``val/ppl`` and ``val/bpc`` are exact split totals, not averages of batch values: the
model returns each batch's nats, tokens and characters from ``validation_sums``, the
training adapter adds them up over the split and across DDP processes, and
``validation_metrics`` turns the totals into the two numbers.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genloom.data.info import DataInfo
from genloom.interfaces import AutoregressiveGenerator
from genloom.model import GenerativeModel

LN2 = math.log(2)


class LanguageModel(GenerativeModel):
    """Base of token models: subclasses set ``self.net`` to an AutoregressiveGenerator.

    Batches are ``{"x": (n, block_size + 1)}`` windows (the ``text`` dataset's): the
    network reads ``x[:, :-1]`` and is scored on predicting ``x[:, 1:]``.
    """

    likelihood = "exact"
    default_sampler = "multinomial"
    progress_bar_keys = ("loss", "bpc")
    net: AutoregressiveGenerator

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        from genloom.kinds import get_kind

        if get_kind(info.kind).continuous or info.vocab_size <= 0:
            raise ValueError(
                f"a language model needs token data with a vocabulary (data.name=text), "
                f"not {info.kind} data"
            )
        self._counter: Any = None
        #: (batch x, its labels, their token nats) from the last validation_losses without
        #: gradients, so validation_sums of the same batch does not run the network again
        self._last_nats: tuple[Tensor, Tensor | None, Tensor] | None = None

    @property
    def block_size(self) -> int:
        """Tokens the network reads per training window."""
        return int(self.info.shape[0]) - 1

    def token_nats(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Negative log-likelihood in nats of each of ``x[:, 1:]`` given what precedes it.

        ``cond`` (one class label per row) reaches the network only when the model is
        conditional; an unconditional model ignores it."""
        logits, _ = self.net.step(x[:, :-1], None, cond if self.conditional else None)
        nats = F.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten(), reduction="none")
        return nats.view(x.shape[0], -1)

    def losses(self, batch: dict[str, Tensor], player: str | None = None) -> dict[str, Tensor]:
        """Mean next-token cross-entropy in nats per token, the labels ``batch['y']`` (if any)
        conditioning the network."""
        return {"loss": self.token_nats(batch["x"], batch.get("y")).mean()}

    # -- characters, for bits per character ------------------------------------------

    def count_chars(self, ids: Tensor) -> Tensor | None:
        """Characters of text that ``ids`` stand for, or None if the tokenizer cannot say."""
        if self._counter is None:
            counter = None
            if self.info.tokenizer:
                from genloom_text.tokenizers import tokenizer_from_state

                from genloom_text.tokenizers import CountsChars

                tokenizer = tokenizer_from_state(self.info.tokenizer)
                counter = tokenizer.count_chars if isinstance(tokenizer, CountsChars) else None
            self._counter = counter or False
        return self._counter(ids) if self._counter else None

    def validation_losses(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Loss and, where characters can be counted, bits per character of this batch."""
        x = batch["x"]
        nats = self.token_nats(x, batch.get("y"))
        if not torch.is_grad_enabled():
            self._last_nats = (x, batch.get("y"), nats)
        parts = {"loss": nats.mean()}
        chars = self.count_chars(x[:, 1:])
        if chars is not None:
            parts["bpc"] = nats.sum() / chars.clamp(min=1) / LN2
        return parts

    # -- exact split totals during validation ------------------------------------------

    def validation_sums(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """This batch's total nats, tokens and (where countable) characters."""
        x = batch["x"]
        last, self._last_nats = self._last_nats, None
        same = last is not None and last[0] is x and last[1] is batch.get("y")
        nats = last[2] if same else self.token_nats(x, batch.get("y"))
        sums = {"nats": nats.sum(), "tokens": torch.tensor(float(nats.numel()), device=nats.device)}
        chars = self.count_chars(x[:, 1:])
        if chars is not None:
            sums["chars"] = chars.sum()
        return sums

    def validation_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """``ppl`` and ``bpc`` (``bits_per_token`` without characters) of the whole split."""
        nats, tokens = sums["nats"], sums["tokens"]
        if tokens <= 0:
            return {}
        metrics = {"ppl": math.exp(min(nats / tokens, 50.0))}
        chars = sums.get("chars", 0.0)
        if chars > 0:
            metrics["bpc"] = nats / chars / LN2
        else:
            metrics["bits_per_token"] = nats / tokens / LN2
        return metrics
