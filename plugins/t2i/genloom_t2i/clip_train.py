"""Train the CLIP-style scorer of :mod:`genloom_t2i.clip` and write it as safetensors.

``python -m genloom_t2i.clip_train --out FILE`` (``--help``) trains on ``captioned_mnist``'s
train split (the default data config: split seed 0, 10 % validation, 10 % test, caption
seed 0, four phrasings): every step draws a batch of images and, for each, one of its
phrasings, and minimises the symmetric InfoNCE loss with a learned temperature. Then it
scores the test split (each image with one of its phrasings, seeded) and records in the
file's metadata what it measured: the retrieval accuracy (the right caption among
``candidates``), the mean CLIPScore of real pairs and of shuffled pairs, beside the data,
seed and steps used. The same arguments give the same weights (one CPU thread or many:
the loop draws all its randomness from seeded generators).

The shipped ``genloom_t2i/weights/clip.safetensors`` is this command with its defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genloom.errors import ConfigError
from genloom_t2i.clip import CANDIDATES, Clip, clip_score, retrieval_accuracy, save_clip


def caption_text(row: Tensor) -> str:
    """The string of one zero-padded caption row of bytes."""
    return bytes(int(b) for b in row if b).decode("ascii")


def pick_phrasings(captions: Tensor, seed: int) -> list[str]:
    """One phrasing per image of ``captions`` ``(n, phrasings, length)``, drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(0, captions.shape[1], (len(captions),), generator=g)
    return [caption_text(captions[i, int(which[i])]) for i in range(len(captions))]


def train_clip(model: Clip, x: Tensor, captions: Tensor, steps: int, batch_size: int = 128,
               lr: float = 2e-3, seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``model`` in place on images ``x`` and their ``captions`` (``(n, phrasings,
    length)`` bytes; a random phrasing per image per step); returns every step's loss.
    Adam with decoupled weight decay, a cosine decay to a tenth of ``lr``."""
    n, k, length = captions.shape
    if n < 2:
        raise ConfigError("CLIP training needs two captioned images or more")
    ids = model.text.tokenize_bytes(captions.reshape(-1, length)).view(n, k, -1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    model.train()
    losses: list[float] = []
    loop: Any = range(steps)
    if progress:
        from tqdm import tqdm
        loop = tqdm(loop, desc="training clip", file=sys.stderr)
    for step in loop:
        rows = torch.randint(0, n, (min(batch_size, n),), generator=g)
        pick = torch.randint(0, k, (len(rows),), generator=g)
        loss = model.loss(x[rows], ids[rows, pick])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in opt.param_groups:
            group["lr"] = lr * (0.1 + 0.45 * (1 + math.cos(math.pi * step / steps)))
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            loop.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def score_split(model: Clip, x: Tensor, texts: list[str], seed: int,
                candidates: int = CANDIDATES) -> dict[str, float]:
    """CLIPScore (``100 * max(cos, 0)``, averaged) and retrieval accuracy of the pairs
    ``(x[i], texts[i])``, and of the same images against ``texts`` shuffled with ``seed``
    (``*_shuffled``: what an image that ignores its prompt scores)."""
    order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
    shuffled = [texts[int(i)] for i in order]
    out = {}
    for suffix, t in (("", texts), ("_shuffled", shuffled)):
        out[f"clip_score{suffix}"] = clip_score(model, x, t)
        out[f"retrieval{suffix}"] = retrieval_accuracy(model, x, t, candidates, seed + 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genloom_t2i.clip_train``: train on the captioned digits, write safetensors."""
    parser = argparse.ArgumentParser(
        prog="python -m genloom_t2i.clip_train",
        description="Train the small CLIP-style image-text scorer of the clip_score metric on "
                    "captioned_mnist's train split (symmetric InfoNCE, learned temperature) and "
                    "write it as safetensors, its test retrieval accuracy in the metadata.")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--steps", type=int, default=1500, help="optimizer steps (default 1500)")
    parser.add_argument("--batch-size", type=int, default=128, help="pairs per step (default 128)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    parser.add_argument("--width", type=int, default=24, help="image encoder channels (default 24)")
    parser.add_argument("--embed", type=int, default=64, help="shared space width (default 64)")
    parser.add_argument("--text-dim", type=int, default=48, help="text encoder width (default 48)")
    parser.add_argument("--text-layers", type=int, default=1, help="text encoder layers (default 1)")
    parser.add_argument("--text-heads", type=int, default=4, help="text encoder heads (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the batches")
    parser.add_argument("--json", action="store_true", help="print what was recorded as JSON, no bar")
    args = parser.parse_args(argv)
    try:
        if args.steps < 1 or args.batch_size < 2 or not args.lr > 0:
            raise ConfigError("--steps must be at least 1, --batch-size at least 2 and --lr above 0")
        out = Path(args.out)
        if not out.parent.is_dir():
            raise ConfigError(f"--out: no folder {str(out.parent)!r}; create it first")
        from genloom_t2i.clip import BOUNDS
        arch = {"width": args.width, "embed": args.embed, "text_dim": args.text_dim,
                "text_layers": args.text_layers, "text_heads": args.text_heads}
        for key, value in arch.items():
            low, high = BOUNDS[key]
            if not low <= value <= high:
                raise ConfigError(f"--{key.replace('_', '-')} must be in {low}..{high}, got {value}")
        from genloom_eval.data.captioned_mnist import CaptionedMNIST
        splits = CaptionedMNIST(CaptionedMNIST.Config()).splits(0.1, 0.1, 0)
        torch.manual_seed(args.seed)
        model = Clip(**arch)
        train = splits["train"]
        losses = train_clip(model, train.x, train.captions, args.steps, args.batch_size, args.lr,
                            args.seed, progress=not args.json)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    test = splits["test"]
    scores = score_split(model, test.x, pick_phrasings(test.captions, args.seed), args.seed)
    record = {
        "data": "captioned_mnist (scale_min 0.5, phrasings 4, caption_seed 0), splits 0.1/0.1 seed 0",
        "train_pairs": f"{len(train.x)} images x {train.captions.shape[1]} phrasings",
        "seed": args.seed, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
        "first_loss": f"{losses[0]:.4f}", "last_loss": f"{losses[-1]:.4f}",
        "temperature": f"{float(model.scale().detach()):.2f}", "candidates": CANDIDATES,
        "test_images": len(test.x),
        **{f"test_{k}": f"{v:.4f}" for k, v in scores.items()},
    }
    save_clip(model, out, record)
    if args.json:
        print(json.dumps({"out": str(out), **record}))
    else:
        print(f"wrote {out}: loss {losses[0]:.3f} -> {losses[-1]:.3f}; test retrieval "
              f"{scores['retrieval']:.3f} among {CANDIDATES} (shuffled {scores['retrieval_shuffled']:.3f}), "
              f"clip score {scores['clip_score']:.1f} (shuffled {scores['clip_score_shuffled']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
