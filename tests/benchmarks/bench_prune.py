"""Pruning against the unpruned and int8 exports of the packaged transformer-pydoc recipe:
file size (raw and zip-compressed), speed and held-out bits per character.

Trains ``transformer-pydoc`` into ``--run`` unless a checkpoint is there (the run
``bench_knn_lm.py`` uses), then writes with the commands a user runs:
``genloom export`` (float and ``--quantize int8``) and ``genloom prune`` (magnitude 0.5,
2:4, rows 0.25, and magnitude 0.5 then int8). For each export it measures

* size: ``model.safetensors`` bytes, and the same compressed by zlib (a zip of the
  export): pruned zeros shrink only when compressed;
* speed: held-out scoring (positions/s, one batch of windows) and greedy generation
  (new tokens/s, batch 1, 128 tokens), best of ``--repeats`` rounds that time every
  export in turn;
* quality: test-split bits per character on ``--positions`` positions.

No FID row: an image model's pruning would need its own trained run; the text table is
the one measured here.

Run:  .venv/bin/python tests/benchmarks/bench_prune.py [--run DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import zlib
from pathlib import Path

import torch

from bench_knn_lm import DEFAULT_RUN, heldout_windows, trained_run

EXPORTS = [
    ("float", ["export"], []),
    ("int8", ["export"], ["--quantize", "int8"]),
    ("magnitude 0.5", ["prune"], ["--method", "magnitude", "--sparsity", "0.5"]),
    ("2:4", ["prune"], ["--method", "2:4"]),
    ("rows 0.25", ["prune"], ["--method", "rows", "--sparsity", "0.25"]),
]


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--positions", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from genloom.checkpoints import load_checkpoint
    from genloom.cli import main as genloom
    from genloom_text.decoding.loop import generate

    run = trained_run(args.run, args.steps)
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-prune-") as tmp:
        made: dict[str, Path] = {}
        for name, command, options in EXPORTS:
            out = Path(tmp) / name.replace(" ", "-").replace(":", "of")
            genloom([*command, str(run), str(out), *options])
            made[name] = out
        out = Path(tmp) / "magnitude-int8"
        genloom(["export", str(made["magnitude 0.5"]), str(out), "--quantize", "int8"])
        made["magnitude 0.5 + int8"] = out
        models = {name: load_checkpoint(str(folder)) for name, folder in made.items()}
        first = next(iter(models.values()))
        x, _ = heldout_windows(first, args.positions)
        chars = float(first.count_chars(x[:, 1:]).sum())
        prompt = x[:1, :1]
        # timings in interleaved rounds (every export once per round, best round kept), so
        # a change of load on a shared machine hits every export alike
        score = {name: float("inf") for name in models}
        gen = dict(score)
        with torch.inference_mode():
            for _ in range(args.repeats):
                for name, model in models.items():
                    score[name] = min(score[name], best_of(1, lambda: model.token_nats(x)))
                    gen[name] = min(gen[name], best_of(1, lambda: generate(
                        model.net, prompt, 1, max_new_tokens=128, greedy=True)))
            for name, model in models.items():
                data = (made[name] / "model.safetensors").read_bytes()
                bpc = float(model.token_nats(x).sum()) / chars / math.log(2)
                zeros = sum(int((p == 0).sum()) for p in model.parameters())
                total = sum(p.numel() for p in model.parameters())
                rows.append((name, len(data), len(zlib.compress(data, 6)), zeros / total,
                             x[:, 1:].numel() / score[name], 128 / gen[name], bpc))
    base = rows[0]
    print(f"transformer-pydoc ({run}); {x[:, 1:].numel():,} held-out positions; best of {args.repeats}; "
          f"{args.threads} threads; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, "
          f"{os.cpu_count()} CPUs")
    print()
    print("| export | MB | MB zipped | zero float weights | scoring pos/s | generation tok/s | held-out bpc |")
    print("|---|---|---|---|---|---|---|")
    for name, size, zipped, zeros, score, gen, bpc in rows:
        print(f"| {name} | {size / 1e6:.2f} ({size / base[1]:.2f}x) | {zipped / 1e6:.2f} ({zipped / base[2]:.2f}x) "
              f"| {zeros:.0%} | {score:,.0f} ({score / base[4]:.2f}x) | {gen:.0f} ({gen / base[5]:.2f}x) "
              f"| {bpc:.3f} ({bpc - base[6]:+.3f}) |")


if __name__ == "__main__":
    main()
