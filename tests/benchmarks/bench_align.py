"""Alignment, LoRA and int8 numbers for the recipe in docs/alignment.md (printed, not asserted).

Parts (``--part``, default all):

* ``align``: for the base policy and each aligned one (``--model NAME=PATH``, e.g. the
  DPO and RLHF exports): the judge's mean reward over sampled continuations of the
  prompts, the win rate against the base on the same prompts and seeds (ties count
  half), the KL per token to the base on the model's own samples (exact at each
  position), and held-out bits per character on the fine-tuning data's validation
  split (the first ``--eval-windows`` windows).
* ``lora``: full fine-tuning vs LoRA (``--rank``) from ``--pretrained`` at equal steps
  (``--steps``) on ``--data``: trainable parameters, seconds per step, held-out bpc.
* ``int8``: ``--base`` exported in float and in int8: file size, sampling tokens/s
  (same seed, ``--samples`` x ``--new-tokens``), held-out bpc and its delta.

Run:  .venv/bin/python tests/benchmarks/bench_align.py --base runs/shakes \\
          --model dpo=runs/shakes-dpo --model rlhf=runs/shakes-rlhf --judge keyword word=the \\
          --prompt "ROMEO.\\n" --pretrained runs/pydoc-bytes --data data.name=shakespeare
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from genloom.checkpoints import export
from genloom_align.finetune import FinetuneConfig, data_splits, finetune, held_out_bpc
from genloom_align.judges import build_judge
from genloom_align.policy import encode, load_policy, sample, token_logprobs, tokenizer


def completions(model, prompts, per_prompt, new_tokens, seed):
    tok = tokenizer(model)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for prompt in prompts:
        ids = tok.encode(prompt)
        batch = sample(model, [ids] * per_prompt, new_tokens, gen)
        out += [(prompt, tok.decode(row[len(ids):].tolist())) for row in batch.ids]
    return out


@torch.no_grad()
def kl_to(model, base, pairs):
    batch = encode(model, [p for p, _ in pairs], [c for _, c in pairs])
    _, logp = token_logprobs(model, batch.ids)
    _, ref = token_logprobs(base, batch.ids)
    kl = (logp.exp() * (logp - ref)).sum(-1)
    return ((kl * batch.mask).sum() / batch.mask.sum()).item()


def part_align(args, judge):
    base = load_policy(args.base)
    splits, _ = data_splits(base, args.data)
    rows = []
    base_pairs = completions(base, args.prompt, args.samples, args.new_tokens, args.seed)
    base_scores = [judge.score(c) for _, c in base_pairs]
    for name, path in [("base", args.base), *[m.split("=", 1) for m in args.model]]:
        model = base if name == "base" else load_policy(path)
        pairs = base_pairs if name == "base" else completions(model, args.prompt, args.samples,
                                                                 args.new_tokens, args.seed)
        scores = [judge.score(c) for _, c in pairs]
        wins = sum(1.0 if s > b else 0.5 if s == b else 0.0 for s, b in zip(scores, base_scores))
        rows.append((name, sum(scores) / len(scores), wins / len(scores), kl_to(model, base, pairs),
                     held_out_bpc(model, splits["val"], args.eval_windows)))
        print(f"  {name}: e.g. {pairs[0][1]!r}")
    print(f"judge {args.judge[0]} {' '.join(args.judge[1:])}: {len(args.prompt)} prompts x {args.samples} "
          f"samples of {args.new_tokens} tokens, seed {args.seed}")
    print(f"{'model':<8} {'reward':>8} {'win vs base':>12} {'KL/token':>9} {'held-out bpc':>13}")
    for name, reward, win, kl, bpc in rows:
        print(f"{name:<8} {reward:>8.3f} {win:>12.3f} {kl:>9.4f} {bpc:>13.4f}")


def part_lora(args):
    rows = []
    for label, rank in (("full", 0), (f"LoRA r={args.rank}", args.rank)):
        cfg = FinetuneConfig(steps=args.steps, lr=args.lr if rank == 0 else args.lora_lr, rank=rank,
                             seed=args.seed, log_every=10**9)
        _, summary = finetune(args.pretrained, args.data, cfg, eval_windows=args.eval_windows, echo=None)
        rows.append((label, summary))
    print(f"fine-tuning {args.pretrained} on {' '.join(args.data)}, {args.steps} steps "
          f"(lr full {args.lr}, LoRA {args.lora_lr}), bpc on {args.eval_windows or 'all'} validation windows")
    print(f"{'variant':<10} {'trainable':>10} {'of':>9} {'s/step':>8} {'bpc before':>11} {'bpc after':>10}")
    for label, s in rows:
        print(f"{label:<10} {s['trainable_parameters']:>10} {s['parameters']:>9} {s['seconds_per_step']:>8.4f}"
              f" {s['bpc_before']:>11.4f} {s['bpc_after']:>10.4f}")
    print(f"  LoRA / full: trainable {rows[1][1]['trainable_parameters'] / rows[0][1]['trainable_parameters']:.4f}x, "
          f"time per step {rows[1][1]['seconds_per_step'] / rows[0][1]['seconds_per_step']:.2f}x")


@torch.no_grad()
def tokens_per_second(model, prompt, n, new_tokens, seed, repeats=3):
    ids = tokenizer(model).encode(prompt)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        sample(model, [ids] * n, new_tokens, torch.Generator().manual_seed(seed))
        best = min(best, time.perf_counter() - start)
    return n * new_tokens / best


def part_int8(args):
    with tempfile.TemporaryDirectory() as tmp:
        fp32_dir = export(args.base, Path(tmp) / "fp32") if not (Path(args.base) / "genloom.json").is_file() else Path(args.base)
        int8_dir = export(fp32_dir, Path(tmp) / "int8", quantize="int8")
        rows = []
        for name, path in (("fp32", fp32_dir), ("int8", int8_dir)):
            model = load_policy(path)
            splits, _ = data_splits(model, args.data)
            rows.append((name, (Path(path) / "model.safetensors").stat().st_size,
                         tokens_per_second(model, args.prompt[0], args.samples, args.new_tokens, args.seed),
                         held_out_bpc(model, splits["val"], args.eval_windows)))
    print(f"int8 dynamic quantisation of {args.base}; sampling {args.samples} x {args.new_tokens} tokens, "
          f"best of 3, {torch.get_num_threads()} thread(s)")
    print(f"{'weights':<8} {'MB':>7} {'tokens/s':>9} {'held-out bpc':>13}")
    for name, size, speed, bpc in rows:
        print(f"{name:<8} {size / 1e6:>7.3f} {speed:>9.0f} {bpc:>13.4f}")
    print(f"  int8 / fp32: size {rows[1][1] / rows[0][1]:.2f}x, tokens/s {rows[1][2] / rows[0][2]:.2f}x, "
          f"bpc {rows[1][3] - rows[0][3]:+.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=["align", "lora", "int8", "all"], default="all")
    p.add_argument("--base", required=True)
    p.add_argument("--model", action="append", default=[], help="NAME=PATH of an aligned policy")
    p.add_argument("--judge", nargs="+", default=["keyword", "word=the"])
    p.add_argument("--prompt", action="append", default=[])
    p.add_argument("--pretrained", default=None)
    p.add_argument("--data", nargs="*", default=[])
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--eval-windows", type=int, default=200)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--lora-lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.prompt = args.prompt or ["\n"]
    judge = build_judge(args.judge[0], dict(o.split("=", 1) for o in args.judge[1:]))
    if args.part in ("align", "all"):
        part_align(args, judge)
    if args.part in ("lora", "all") and args.pretrained:
        part_lora(args)
    if args.part in ("int8", "all"):
        part_int8(args)


if __name__ == "__main__":
    main()
