"""``c2st``: can a classifier tell the model's samples from real data?

A classifier two-sample test (Lopez-Paz & Oquab, 2017). ``n`` held-out real examples
get label 1, ``n`` samples label 0; a seeded half of each trains a small classifier
(a one-hidden-layer MLP on standardised features, full-batch Adam), and its accuracy
on the other half is the value: 0.5 means this classifier cannot tell samples from
real data, 1.0 that it always can. The *floor* is the same test with ``n`` training
examples in place of the samples (real against real): what the score is when both
sides come from the data distribution, i.e. 0.5 plus this sample size's noise
(about ``0.5 / sqrt(n)`` standard deviation).

Features: the kind's data-space features for images and points (pixels, coordinates);
for token data (text), hashed counts of token 1-, 2- and 3-grams (character n-grams
with the character tokenizer), so text needs no language model to be judged.

What it does not prove: the score is one classifier's, on these features, at this
``n``; a bigger classifier or more data may tell samples apart where this one cannot,
and a model that copies its training set scores 0.5 (``novelty``/``copying`` see that).
Everything is seeded by the run's seed: the same model gives the same number.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError

HASH_DIM = 2048  # buckets of hashed token n-grams
NGRAMS = (1, 2, 3)
DEFAULT_TEXT_N = 256  # text windows per side when genloom evaluate --n is not given


def c2st_accuracy(real: Tensor, fake: Tensor, *, seed: int = 0, hidden: int = 64, steps: int = 300,
                  lr: float = 1e-2, weight_decay: float = 1e-3) -> float:
    """Held-out accuracy of an MLP trained to tell rows of ``real`` from rows of ``fake``.

    Both sets are cut to the smaller one's size, so chance is exactly 0.5; each is split
    in halves (seeded), the classifier trains on the first halves and is scored on the
    second. ``real`` and ``fake`` are ``(n, d)`` feature matrices.
    """
    n = min(len(real), len(fake))
    if n < 4:
        raise ConfigError(f"metric c2st: needs at least 4 examples per side, got {n}; raise --n")
    g = torch.Generator().manual_seed(seed)
    real = real[torch.randperm(len(real), generator=g)[:n]].float().flatten(1)
    fake = fake[torch.randperm(len(fake), generator=g)[:n]].float().flatten(1)
    half = n // 2
    x_train = torch.cat([real[:half], fake[:half]])
    y_train = torch.cat([torch.ones(half), torch.zeros(half)])
    x_test = torch.cat([real[half:], fake[half:]])
    y_test = torch.cat([torch.ones(n - half), torch.zeros(n - half)])
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    net = nn.Sequential(nn.Linear(x_train.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, 1))
    with torch.no_grad():  # seeded initialisation, independent of the global RNG
        for p in net.parameters():
            p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=g) / p.shape[-1] ** 0.5)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(net(x_train).squeeze(1), y_train).backward()
            opt.step()
    with torch.no_grad():
        predicted = (net(x_test).squeeze(1) > 0).float()
    return float((predicted == y_test).float().mean())


def ngram_features(tokens: Tensor, dim: int = HASH_DIM, sizes: tuple[int, ...] = NGRAMS) -> Tensor:
    """``(n, dim)`` log-counts of each row's token n-grams hashed into ``dim`` buckets
    (a fixed polynomial hash of the ids: the same on every machine and run)."""
    tokens = tokens.long()
    out = torch.zeros(len(tokens), dim)
    for size in sizes:
        if tokens.shape[1] < size:
            continue
        grams = tokens.unfold(1, size, 1)  # (n, windows, size)
        code = torch.zeros(grams.shape[:2], dtype=torch.long)
        for j in range(size):
            code = (code * 1_000_003 + grams[..., j] + 1) % 2_147_483_647
        code = (code + size * 7919) % dim
        out.scatter_add_(1, code, torch.ones_like(code, dtype=out.dtype))
    return out.log1p()


def token_windows(split: Any, length: int) -> list[Tensor]:
    """A split's token ids cut into consecutive windows of ``length`` tokens."""
    from genloom.data.splits import all_examples

    tokens = getattr(split, "tokens", None)
    runs = [tokens] if isinstance(tokens, Tensor) else list(all_examples(split)["x"])
    return [run[i : i + length] for run in runs for i in range(0, len(run) - length + 1, length)]


def _text_sets(model: Any, datamodule: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Held-out windows, as many samples and as many training windows (token ids)."""
    length = int(model.info.shape[0])
    test = token_windows(datamodule.split("test"), length)
    train = token_windows(datamodule.split("train"), length)
    n = getattr(datamodule, "eval_n", None) or min(DEFAULT_TEXT_N, len(test))
    if not 4 <= n <= min(len(test), len(train)):
        raise ConfigError(f"--n {n}: give 4 to {min(len(test), len(train))} (the test split's windows)")
    seed = int(model.run_cfg.seed)
    g = torch.Generator().manual_seed(seed)
    heldout = torch.stack([test[i] for i in torch.randperm(len(test), generator=g)[:n].tolist()])
    reference = torch.stack([train[i] for i in torch.randperm(len(train), generator=g)[:n].tolist()])
    with torch.no_grad():
        samples = model.sample(n, generator=torch.Generator().manual_seed(seed), max_new_tokens=length).data
    return heldout, samples[:, :length], reference


class C2ST:
    """Classifier two-sample test: accuracy telling held-out data from samples, with
    its real-vs-real floor (held-out data against as many training examples)."""

    def __init__(self, hidden: int = 64, steps: int = 300) -> None:
        self.hidden, self.steps = int(hidden), int(steps)

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        from genloom.kinds import get_kind

        kind = get_kind(model.info.kind)
        seed = int(model.run_cfg.seed)
        if kind.continuous:
            from genloom_eval.metrics.comparison import comparison

            cmp = comparison(model, datamodule)
            order = torch.randperm(len(cmp.train), generator=torch.Generator().manual_seed(seed))[: cmp.n]
            real, fake, other = (kind.features(x, model.info) for x in (cmp.heldout, cmp.samples, cmp.train[order]))
        elif model.info.tokenizer:
            real, fake, other = (ngram_features(x) for x in _text_sets(model, datamodule))
        else:
            raise ConfigError("metric c2st: reads images, points or text; this data is none of them")
        options = {"seed": seed, "hidden": self.hidden, "steps": self.steps}
        return {"test/c2st": c2st_accuracy(real, fake, **options),
                "test/c2st_floor": c2st_accuracy(real, other, **options)}
