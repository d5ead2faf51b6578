"""Training the char transformer on the pydoc topics: loop throughput and held-out bpc.

1. ``throughput``: training tokens/s of ``genloom.train`` (Lightning loop, no validation,
   no sample files) vs a hand-written PyTorch loop on the same model, data, batch and
   optimizer, same number of steps; the ratio genloom / hand-written is printed.
2. ``bpc``: train for a fixed CPU budget (``--budget`` seconds, default 300), then bits
   per character on the held-out test split (the last 10% of the corpus), printed next
   to ``xz -9`` (Python's lzma, preset 9) on the same held-out text.

Run:  .venv/bin/python tests/benchmarks/bench_text_training.py [--part throughput|bpc|all]
      [--quick] [--steps 200] [--budget 300]
--quick: 20 steps and a 20 s budget, to check it runs. Timings on a shared or busy
machine are noisy: take final numbers on a quiet one.
"""

from __future__ import annotations

import argparse
import lzma
import math
import tempfile
import time

import torch

from genloom import load_config, train
from genloom.build import build_dataset, build_model

MODEL = ["model.name=transformer", "model.width=128", "model.layers=4", "model.heads=4"]
DATA = ["data.name=text", "data.tokenizer=char", "data.block_size=128", "data.batch_size=32"]
COMMON = [*MODEL, *DATA, "optim.name=adamw", "optim.lr=1e-3", "sample.every_n_epochs=0",
          "checkpoint.every_n_epochs=0"]


def hand_written(steps: int) -> float:
    """Seconds for ``steps`` AdamW steps on shuffled windows; no framework."""
    start = time.perf_counter()
    torch.manual_seed(0)
    cfg = load_config(None, COMMON, check_trainer=False)
    dataset = build_dataset(cfg)
    windows = dataset.splits(0.1, 0.1, 0)["train"]
    model = build_model(cfg, dataset.info).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    done = 0
    while done < steps:
        order = torch.randperm(len(windows)).tolist()
        for i in range(0, len(order) - 31, 32):
            batch = windows.__getitems__(order[i : i + 32])
            loss = model.token_nats(batch["x"]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def genloom_loop(steps: int) -> float:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(None, [*COMMON, f"output_dir={out}/run", f"trainer.max_steps={steps}",
                                 "trainer.limit_val_batches=0", "trainer.enable_progress_bar=false"])
        train(cfg, echo=None)
    return time.perf_counter() - start


def throughput(steps: int) -> None:
    tokens = steps * 32 * 128
    hand_written(2), genloom_loop(2)  # warm up imports and caches
    hand = hand_written(steps)
    ours = genloom_loop(steps)
    print(f"training, {steps} steps of 32 x 128 tokens (times include building data and model)")
    print(f"  hand-written loop {tokens / hand:>9.0f} tokens/s  ({hand:.1f} s)")
    print(f"  genloom.train     {tokens / ours:>9.0f} tokens/s  ({ours:.1f} s)")
    print(f"  ratio genloom / hand-written: {(tokens / ours) / (tokens / hand):.2f}x")


def held_out_bpc(budget: float) -> None:
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(None, [*COMMON, f"output_dir={out}/run", "trainer.max_epochs=1000",
                                 f"trainer.max_time={{seconds: {int(budget)}}}", "optim.scheduler=constant",
                                 "trainer.limit_val_batches=0", "trainer.enable_progress_bar=false"])
        result = train(cfg, echo=None)
    model = result.model.eval()
    dataset = build_dataset(cfg)
    tok = dataset.tokenizer
    test = dataset.splits(0.1, 0.1, 0)["test"]
    nats, chars = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(test), 32):
            x = test.__getitems__(list(range(i, min(i + 32, len(test)))))["x"]
            nats += float(model.token_nats(x).sum())
            chars += int(tok.count_chars(x[:, 1:]))
    text = tok.decode(test.tokens.tolist())
    xz_bits = 8 * len(lzma.compress(text.encode("utf-8"), preset=9))
    print(f"held-out pydoc test split ({len(text)} characters), after {budget:.0f} s of training "
          f"({result.trainer.global_step} steps):")
    print(f"  transformer (char, 0.8M params)  {nats / chars / math.log(2):.3f} bits/char")
    print(f"  xz -9 on the same text           {xz_bits / len(text):.3f} bits/char")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["throughput", "bpc", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="20 steps and a 20 s budget")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds for bpc")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps, budget = (20, 20.0) if args.quick else (args.steps, args.budget)
    if args.part in ("throughput", "all"):
        throughput(steps)
    if args.part in ("bpc", "all"):
        held_out_bpc(budget)


if __name__ == "__main__":
    main()
