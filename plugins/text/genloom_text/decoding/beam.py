"""Beam search: keep the ``beams`` most likely sequences, extending each by one token.

Scores are summed log-probabilities. A hypothesis that produces a stop string is
finished; its score is divided by ``length ** length_penalty`` (generated tokens only)
before finished hypotheses are compared, so ``length_penalty > 0`` favours longer
ones. Search ends when ``beams`` hypotheses are finished or after ``max_new_tokens``;
the unfinished beams then join the finished ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genloom_text.decoding.loop import Context


@dataclass
class Hypothesis:
    """One finished sequence: its ids (prompt included) and its normalised score."""

    ids: list[int]
    score: float


def _normalised(logp: float, generated: int, length_penalty: float) -> float:
    return logp / max(1, generated) ** length_penalty


@torch.inference_mode()
def beam_search(
    gen: Any,
    prompt: Tensor,
    *,
    beams: int,
    max_new_tokens: int,
    length_penalty: float = 1.0,
    stops: list[str] | None = None,
    tokenizer: Any = None,
    cond: Tensor | None = None,
) -> list[Hypothesis]:
    """The hypotheses of a beam search from ``prompt`` ``(1, t)``, best first.

    Stop strings are checked on each candidate's own generated text, decoded with
    ``tokenizer``.
    """
    device = next(gen.parameters()).device
    prompt = prompt.to(device)
    ctx = Context(gen, cond)
    logp = ctx.start(prompt).float().log_softmax(dim=-1)
    vocab = logp.shape[-1]
    seqs = prompt  # (b, L)
    scores = torch.zeros(1, device=device)
    finished: list[Hypothesis] = []
    t = prompt.shape[1]
    for step in range(max_new_tokens):
        total = (scores[:, None] + logp).flatten()
        top = torch.topk(total, min(2 * beams, total.numel()))
        keep_rows: list[int] = []
        keep_tokens: list[int] = []
        keep_scores: list[float] = []
        for score, flat in zip(top.values.tolist(), top.indices.tolist()):
            row, token = divmod(flat, vocab)
            if stops and _has_stop(tokenizer, stops, seqs[row, t:].tolist() + [token]):
                ids = seqs[row].tolist() + [token]
                finished.append(Hypothesis(ids, _normalised(score, step + 1, length_penalty)))
                continue
            keep_rows.append(row)
            keep_tokens.append(token)
            keep_scores.append(score)
            if len(keep_rows) == beams:
                break
        if len(finished) >= beams or not keep_rows:
            break
        rows = torch.tensor(keep_rows, device=device)
        new = torch.tensor(keep_tokens, device=device)
        seqs = torch.cat([seqs.index_select(0, rows), new[:, None]], dim=1)
        scores = torch.tensor(keep_scores, device=device)
        if step + 1 < max_new_tokens:
            ctx.select(rows)
            logp = ctx.advance(new, lambda: seqs).float().log_softmax(dim=-1)
    generated = seqs.shape[1] - t
    for ids, score in zip(seqs.tolist(), scores.tolist()):
        finished.append(Hypothesis(ids, _normalised(score, generated, length_penalty)))
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished


def _has_stop(tokenizer: Any, stops: list[str], generated: list[int]) -> bool:
    # a hypothesis whose text held a stop string earlier was finished then, so any
    # occurrence now is a new one
    text = tokenizer.decode(generated)
    return any(s in text for s in stops)
