"""The token-by-token decoding loop shared by sampling and greedy decoding.

Each new token costs the generator one ``step`` on one position, with the cache it
returned the step before. A generator has a ``context_length``; when the sequence
outgrows it, the loop re-feeds the last half of the context without a cache and goes
on from there (one full pass every ``context_length / 2`` tokens instead of one per
token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genloom_text.decoding.cache import select_cache
from genloom_text.decoding.processors import process
from genloom_text.decoding.stops import StopStrings


class Context:
    """The sequence so far and the generator's cache for it, kept within the context."""

    def __init__(self, gen: Any, cond: Tensor | None = None) -> None:
        self.gen, self.cond = gen, cond
        self.limit = int(gen.context_length)
        self.cached = 0  # positions the cache holds
        self.cache: Any = None

    def start(self, ids: Tensor) -> Tensor:
        """Feed the prompt ``(rows, t)`` (its tail when it is longer than the context);
        return the next-token logits ``(rows, vocab)``."""
        window = ids[:, -self.limit :] if ids.shape[1] > self.limit else ids
        logits, self.cache = self.gen.step(window, None, self.cond)
        self.cached = window.shape[1]
        return logits[:, -1]

    def select(self, rows: Tensor) -> None:
        """Keep (or repeat) cache rows, e.g. the surviving beams."""
        self.cache = select_cache(self.gen, self.cache, rows)
        if self.cond is not None:
            self.cond = self.cond.index_select(0, rows.to(self.cond.device))

    def advance(self, new: Tensor, sequence: Callable[[], Tensor]) -> Tensor:
        """Feed the new tokens ``(rows,)``; ``sequence()`` gives the whole ``(rows, L)``
        sequence, needed only when the context is full."""
        if self.cached + 1 <= self.limit:
            logits, self.cache = self.gen.step(new[:, None], self.cache, self.cond)
            self.cached += 1
            return logits[:, -1]
        return self.start(sequence()[:, -max(1, self.limit // 2) :])


@torch.inference_mode()
def generate(
    gen: Any,
    prompt: Tensor,
    n: int,
    *,
    max_new_tokens: int,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    stops: StopStrings | None = None,
    cond: Tensor | None = None,
    generator: torch.Generator | None = None,
    on_token: Callable[[Tensor], None] | None = None,
) -> tuple[Tensor, Tensor]:
    """``n`` continuations of ``prompt`` ``(1, t)``: ids ``(n, t + new)`` and row lengths.

    ``cond`` holds one condition for every row or one per row. A row that produced a
    stop string stops there (its length says where; later positions hold 0). ``on_token`` is called with each new ``(n,)`` token batch.
    """
    device = next(gen.parameters()).device
    prompt = prompt.to(device)
    if cond is not None and len(cond) == n and n > 1:
        # one condition per row: the prompt runs once per row, each with its own label
        ctx = Context(gen, cond)
        last = ctx.start(prompt.expand(n, -1))
    else:
        ctx = Context(gen, None if cond is None else cond[:1])
        last = ctx.start(prompt)
        if n > 1:  # run the prompt once, then copy its cache (and condition)
            rows = torch.zeros(n, dtype=torch.long, device=device)
            ctx.select(rows)
            last = last.expand(n, -1)
    t = prompt.shape[1]
    out = torch.zeros((n, t + max_new_tokens), dtype=torch.long, device=device)
    out[:, :t] = prompt
    lengths = torch.full((n,), t + max_new_tokens, dtype=torch.long)
    done = torch.zeros(n, dtype=torch.bool)
    seen = None
    if repetition_penalty != 1:
        seen = torch.zeros((n, last.shape[-1]), dtype=torch.bool, device=device)
        seen[:, prompt[0]] = True
    greedy = greedy or temperature == 0
    for i in range(max_new_tokens):
        logits = process(
            last.float(), seen=seen, temperature_=temperature, top_k_=top_k, top_p_=top_p,
            repetition_penalty_=repetition_penalty,
        )
        if greedy:
            new = logits.argmax(dim=-1)
        else:
            probs = logits.softmax(dim=-1).cpu()
            new = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(device)
        out[:, t + i] = new
        if seen is not None:
            seen[torch.arange(n, device=device), new] = True
        if on_token is not None:
            on_token(new)
        if stops:
            for row, token in enumerate(new.tolist()):
                if not done[row] and stops.push(row, token):
                    done[row] = True
                    lengths[row] = t + i + 1
            if bool(done.all()):
                break
        if i + 1 < max_new_tokens:
            end = t + i + 1
            last = ctx.advance(new, lambda: out[:, :end])
    width = int(lengths.max())
    out = out[:, :width].cpu()
    out[torch.arange(width)[None, :] >= lengths[:, None]] = 0
    return out, lengths
