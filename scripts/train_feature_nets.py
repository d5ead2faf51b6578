"""Train the shipped feature networks (``genloom/metrics/features/*.safetensors``).

One small CNN per built-in image dataset, trained on the dataset's default train split
(``DataSection`` defaults: 10% val, 10% test, split_seed 0) with a fixed seed on one
thread, so the run repeats. Light augmentation (random shifts of up to 1/8 of the side)
makes the features less brittle on generated images. The accuracy on the default test
split goes into the file's metadata and is what ``tests/test_metrics_features.py``
checks the shipped file against.

    .venv/bin/python scripts/train_feature_nets.py            # all three datasets
    .venv/bin/python scripts/train_feature_nets.py mnist      # one

``captioned_mnist`` (genloom-eval's moved and shrunk digits, which genloom-t2i's
``prompt_fidelity`` reads) gets its own network: its train split holds no held-out
digit-attribute pair, and its test split is the one the metric draws prompts from.
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from genloom.config import DataSection
from genloom_eval.metrics.classifier import DigitClassifier, save_classifier, weights_path

SEED = 0
EPOCHS = {"digits": 40, "mnist": 15, "captioned_mnist": 30}


def dataset(name: str):
    if name == "digits":
        from genloom.data.digits import Digits

        return Digits(None)
    if name == "captioned_mnist":
        from genloom_eval.data.captioned_mnist import CaptionedMNIST

        return CaptionedMNIST(CaptionedMNIST.Config())
    from genloom_eval.data.mnist import MNIST

    return MNIST(None)


def shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by a random integer offset, padded with background (-1)."""
    n, _, h, _ = x.shape
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dx, dy = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + h] for i in range(n)])


def accuracy(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(name: str) -> None:
    d = DataSection()
    splits = dataset(name).splits(d.val_fraction, d.test_fraction, d.split_seed)
    x, y = splits["train"].x, splits["train"].y
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model = DigitClassifier(size=x.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps_per_epoch = (len(x) + 63) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=EPOCHS[name] * steps_per_epoch)
    start = time.perf_counter()
    for _ in range(EPOCHS[name]):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = F.cross_entropy(model(shift(x[idx], gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    val = accuracy(model, splits["val"].x, splits["val"].y)
    test = accuracy(model, splits["test"].x, splits["test"].y)
    seconds = time.perf_counter() - start
    meta = {"dataset": name, "seed": SEED, "epochs": EPOCHS[name], "train_examples": len(x),
            "val_accuracy": f"{val:.4f}", "test_accuracy": f"{test:.4f}",
            "test_examples": len(splits["test"].x), "trained_by": "scripts/train_feature_nets.py"}
    path = weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(model, path, meta)
    print(f"{name}: val accuracy {val:.4f}, test accuracy {test:.4f} "
          f"({len(splits['test'].x)} images), {seconds:.0f}s, {path} {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name in sys.argv[1:] or ["digits", "mnist", "captioned_mnist"]:
        train(name)
