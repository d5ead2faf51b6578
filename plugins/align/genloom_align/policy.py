"""A language model loaded from a checkpoint, as a policy: encoding, log-probs, sampling.

Everything here goes through genloom's public API (``load_checkpoint``,
``LanguageModel``, ``AutoregressiveGenerator.step``), so any registered
autoregressive model works; a checkpoint of another kind of model is a one-line
error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genloom import AutoregressiveGenerator, ConfigError, load_checkpoint
from genloom_text import LanguageModel, tokenizer_from_state


def load_policy(path: str | Path, what: str = "policy") -> LanguageModel:
    """The language model saved at ``path`` (run, ``.ckpt`` or export), in eval mode."""
    model = load_checkpoint(path)
    if not isinstance(model, LanguageModel) or not isinstance(getattr(model, "net", None),
                                                              AutoregressiveGenerator):
        name = getattr(getattr(getattr(model, "run_cfg", None), "model", None), "name", "?")
        raise ConfigError(
            f"{what} '{path}' is a '{name}' model, not an autoregressive language model; "
            "give the checkpoint of a text model (transformer, rnn, or any LanguageModel)"
        )
    return model


def frozen_copy(path: str | Path) -> LanguageModel:
    """The same checkpoint loaded again with every parameter frozen (a reference)."""
    ref = load_policy(path, "reference")
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def tokenizer(model: LanguageModel) -> Any:
    return tokenizer_from_state(model.info.tokenizer)


@dataclass
class Encoded:
    """Prompt + response rows, right-padded: ``ids`` ``(n, t)``; ``mask`` ``(n, t - 1)``
    is 1 where the target ``ids[:, 1:]`` is a response token."""

    ids: Tensor
    mask: Tensor


def encode(model: LanguageModel, prompts: list[str], responses: list[str],
           limit: int | None = None) -> Encoded:
    """Encode ``prompt + response`` rows, fitted into ``limit`` tokens (default: the
    model's training window, ``block_size + 1``).

    A longer row keeps the end of its prompt and the start of its response. With an
    empty prompt the first response token has no context and is not scored."""
    tok = tokenizer(model)
    limit = limit or model.block_size + 1
    rows, spans = [], []
    for prompt, response in zip(prompts, responses):
        p, r = tok.encode(prompt), tok.encode(response)
        r = r[: max(1, limit - 1)]
        p = p[max(0, len(p) - (limit - len(r))):]
        rows.append(p + r)
        spans.append((len(p), len(p) + len(r)))
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), max(1, width - 1))
    for i, (row, (lo, hi)) in enumerate(zip(rows, spans)):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, max(0, lo - 1) : hi - 1] = 1.0  # target j + 1 is predicted at position j
    return Encoded(ids, mask[:, : width - 1])


def token_logprobs(model: LanguageModel, ids: Tensor) -> tuple[Tensor, Tensor]:
    """``(log p(ids[:, 1:]) per position, the full log-softmax (n, t - 1, vocab))``."""
    logits, _ = model.net.step(ids[:, :-1])
    logp = F.log_softmax(logits.float(), dim=-1)
    return logp.gather(-1, ids[:, 1:, None]).squeeze(-1), logp


def sequence_logprob(model: LanguageModel, batch: Encoded) -> Tensor:
    """Sum of the response tokens' log-probabilities, one per row."""
    logp, _ = token_logprobs(model, batch.ids)
    return (logp * batch.mask).sum(-1)


def kl_per_token(policy_logp: Tensor, ref_logp: Tensor, mask: Tensor) -> Tensor:
    """Mean over masked positions of KL(policy || reference) of the next-token
    distributions (exact at each position, not a sample estimate)."""
    kl = (policy_logp.exp() * (policy_logp - ref_logp)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def sample(model: LanguageModel, prompt_ids: list[list[int]], max_new_tokens: int,
           generator: torch.Generator, temperature: float = 1.0) -> Encoded:
    """One continuation of ``max_new_tokens`` tokens per prompt (multinomial, KV cache).

    Prompts must share one length (the caller groups them). The rows come back as
    :class:`Encoded`, the mask marking the sampled tokens."""
    lengths = {len(p) for p in prompt_ids}
    if len(lengths) != 1 or 0 in lengths:
        raise ConfigError("prompts of one sampling batch must be non-empty and of one length")
    plen = lengths.pop()
    if plen + max_new_tokens > model.block_size + 1:
        raise ConfigError(
            f"a prompt of {plen} tokens plus {max_new_tokens} new tokens exceeds the model's "
            f"window of {model.block_size + 1}; shorten the prompt or --max-new-tokens"
        )
    ids = torch.tensor(prompt_ids, dtype=torch.long)
    logits, cache = model.net.step(ids)
    out = [ids]
    for i in range(max_new_tokens):
        probs = F.softmax(logits[:, -1].float() / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=generator)
        out.append(nxt)
        if i + 1 < max_new_tokens:  # the last token needs no logits after it
            logits, cache = model.net.step(nxt, cache)
    ids = torch.cat(out, 1)
    mask = torch.zeros(ids.shape[0], ids.shape[1] - 1)
    mask[:, plen - 1 :] = 1.0
    return Encoded(ids, mask)
