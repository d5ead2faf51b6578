"""Preference pairs: read and write ``{prompt, chosen, rejected}`` JSONL; make pairs
from a programmatic judge over the policy's own samples.

A *judge* is any object with ``score(text) -> float`` (higher is preferred). The
built-in ones (:mod:`genloom_align.judges`) stand in for human raters so that the
whole pipeline runs without people: they are rules, and a model aligned to them
learns the rule, nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from genloom import ConfigError

FIELDS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class Pair:
    prompt: str
    chosen: str
    rejected: str


def read_pairs(path: str | Path) -> list[Pair]:
    """Every pair in a JSONL file; a bad line is a one-line error with its number."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"pairs file '{p}' does not exist; write one JSON object per line "
                          "with string fields prompt, chosen, rejected (or make one with "
                          "'genloom align pairs')")
    pairs = []
    with p.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{p}:{number}: not valid JSON ({exc.msg}); each line must be "
                                  'one object like {"prompt": "...", "chosen": "...", '
                                  '"rejected": "..."}') from None
            bad = [k for k in FIELDS if not isinstance(obj, dict) or not isinstance(obj.get(k), str)]
            if bad:
                raise ConfigError(f"{p}:{number}: field '{bad[0]}' is missing or not a string; "
                                  "each line needs string fields prompt, chosen, rejected")
            pairs.append(Pair(obj["prompt"], obj["chosen"], obj["rejected"]))
    if not pairs:
        raise ConfigError(f"pairs file '{p}' holds no pairs")
    return pairs


def write_pairs(pairs: list[Pair], path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps({"prompt": pair.prompt, "chosen": pair.chosen,
                                "rejected": pair.rejected}) + "\n")
    return out


def split_pairs(pairs: list[Pair], held_out: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """A seeded shuffle into (train, held-out); at least one pair stays for training."""
    import random

    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_out = min(len(pairs) - 1, int(round(len(pairs) * held_out)))
    return [pairs[i] for i in order[n_out:]], [pairs[i] for i in order[:n_out]]


def make_pairs(policy, judge, prompts: list[str], n_pairs: int, *, per_prompt: int = 4,
               max_new_tokens: int = 32, seed: int = 0, temperature: float = 1.0) -> list[Pair]:
    """Sample ``per_prompt`` continuations of each prompt (round robin) from ``policy``;
    the judge's best becomes *chosen*, its worst *rejected*; ties make no pair."""
    import torch

    from genloom_align.policy import sample, tokenizer

    tok = tokenizer(policy)
    gen = torch.Generator().manual_seed(seed)
    pairs: list[Pair] = []
    tries = 0
    while len(pairs) < n_pairs and tries < 20 * n_pairs:
        prompt = prompts[tries % len(prompts)]
        tries += 1
        ids = tok.encode(prompt)
        batch = sample(policy, [ids] * per_prompt, max_new_tokens, gen, temperature)
        texts = [tok.decode(row[len(ids):].tolist()) for row in batch.ids]
        scores = [judge.score(t) for t in texts]
        best, worst = max(range(len(texts)), key=scores.__getitem__), min(range(len(texts)), key=scores.__getitem__)
        if scores[best] > scores[worst]:
            pairs.append(Pair(prompt, texts[best], texts[worst]))
    return pairs
