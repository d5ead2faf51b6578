"""``copying``: how much generated text repeats its training text word for word.

For n = 8, 16 and 32 characters: the share of the samples' character n-grams that
occur verbatim somewhere in the training text, next to the same share for as much
held-out text (the floor: new text from the same source shares common phrases, names
and code idioms with the training text too). A model that writes fluently without
memorising sits near the floor at every n; one that recites its training data is far
above it, most visibly at n = 32, where chance overlaps are rare.

Samples are drawn with the run's seed (no prompt, the model's default sampler), as
many as ``genloom evaluate --n`` asks for (64 by default), each as long as a training
window; the held-out pieces are seeded windows of the test split of the same length.
"""

from __future__ import annotations

from typing import Any

import torch

from genloom.errors import ConfigError
from genloom.data.splits import all_examples

SIZES = (8, 16, 32)
DEFAULT_N = 64


def ngrams(text: str, n: int) -> list[str]:
    """Every character n-gram of ``text``, overlapping, in order."""
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def copy_rates(texts: list[str], training: list[str], sizes: tuple[int, ...] = SIZES) -> dict[int, float]:
    """For each n: the share of the n-grams of ``texts`` that occur in ``training``
    (NaN when the texts are shorter than n)."""
    rates = {}
    for n in sizes:
        seen = {g for t in training for g in ngrams(t, n)}
        grams = [g for t in texts for g in ngrams(t, n)]
        rates[n] = sum(g in seen for g in grams) / len(grams) if grams else float("nan")
    return rates


def _split_tokens(split: Any) -> list[torch.Tensor]:
    """A split's token ids as long runs: the whole part when the dataset keeps it
    (``tokens``, as the text dataset does), else its windows one by one."""
    tokens = getattr(split, "tokens", None)
    if isinstance(tokens, torch.Tensor):
        return [tokens]
    if hasattr(split, "__getitems__"):  # the in-memory datasets answer a batch at once
        return list(split.__getitems__(list(range(len(split))))["x"])
    return [split[i]["x"] for i in range(len(split))]


def text_sets(model: Any, datamodule: Any, metric: str = "copying") -> tuple[list[str], list[str], list[str]]:
    """``(samples, heldout, training)`` as text: ``n`` seeded samples and as many seeded
    held-out windows, each a training window long, and the training split's text."""
    from genloom_text.tokenizers import tokenizer_from_state

    from genloom.kinds import get_kind

    if get_kind(model.info.kind).continuous or not model.info.tokenizer:
        raise ConfigError(f"metric {metric}: reads text; use --metric novelty for other data")
    tokenizer = tokenizer_from_state(model.info.tokenizer)
    test = _split_tokens(datamodule.split("test"))
    length = int(model.info.shape[0])
    pieces = [run[i : i + length] for run in test for i in range(0, len(run) - length + 1, length)]
    n = getattr(datamodule, "eval_n", None) or min(DEFAULT_N, len(pieces))
    if not 1 <= n <= len(pieces):
        raise ConfigError(f"--n {n}: give 1 to {len(pieces)} (the test split's windows)")
    generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
    order = torch.randperm(len(pieces), generator=generator)[:n].tolist()
    heldout = [tokenizer.decode(pieces[i].tolist()) for i in order]
    with torch.no_grad():
        samples = model.sample(n, generator=torch.Generator().manual_seed(int(model.run_cfg.seed)),
                               max_new_tokens=length).data
    texts = [tokenizer.decode([int(t) for t in row]) for row in samples]
    training = [tokenizer.decode(run.tolist()) for run in _split_tokens(datamodule.split("train"))]
    return texts, heldout, training


class Copying:
    """Verbatim n-gram overlap with the training text: samples against held-out text."""

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        texts, heldout, training = text_sets(model, datamodule)
        fake, floor = copy_rates(texts, training), copy_rates(heldout, training)
        out: dict[str, float] = {}
        for size in SIZES:
            out[f"test/copy_{size}"] = fake[size]
            out[f"test/copy_{size}_floor"] = floor[size]
        return out
