"""Generation speed of the transformer plugin, against Hugging Face GPT-2 of the same shape.

1. tokens/s generating 256 new tokens at batch 1, greedy, both with their KV cache:
   ours (genloom's decoding loop on genloom_transformer's network) vs
   ``transformers.GPT2LMHeadModel.generate`` with the same width, depth, heads and
   vocabulary, random weights; the ratio ours / HF is printed (target >= 1.5).
2. time per new token at positions 32, 128 and 512, with the cache (one position
   per step: flat) and without (the whole prefix per step: growing).

Benchmark-only dependency: ``pip install transformers`` (5.23.0 installs beside torch).
Run:  .venv/bin/python tests/benchmarks/bench_text_generation.py [--quick] [--repeats 5]
Timings on a shared or busy machine are noisy: take final numbers on a quiet one.
"""

from __future__ import annotations

import argparse
import time

import torch

from genloom_text.decoding.loop import generate
from genloom_transformer.network import Transformer

VOCAB, WIDTH, LAYERS, HEADS, CONTEXT = 103, 128, 4, 4, 1024


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(new_tokens: int, prompt: torch.Tensor) -> callable:
    torch.manual_seed(0)
    net = Transformer(VOCAB, CONTEXT, width=WIDTH, layers=LAYERS, heads=HEADS).eval()
    return lambda: generate(net, prompt, 1, max_new_tokens=new_tokens, greedy=True)


def huggingface(new_tokens: int, prompt: torch.Tensor) -> callable:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=CONTEXT, n_embd=WIDTH, n_layer=LAYERS, n_head=HEADS,
                     bos_token_id=0, eos_token_id=None, pad_token_id=0)
    model = GPT2LMHeadModel(cfg).eval()

    def run():
        with torch.inference_mode():
            model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, do_sample=False, use_cache=True)
    return run


def per_token(positions: list[int], repeats: int) -> None:
    torch.manual_seed(0)
    net = Transformer(VOCAB, CONTEXT, width=WIDTH, layers=LAYERS, heads=HEADS).eval()
    print(f"\nper-token time (ms) at position P, batch 1, {repeats} repeats, best")
    print(f"{'P':>6} {'with cache':>11} {'without':>9} {'ratio':>7}")
    with torch.inference_mode():
        for p in positions:
            seq = torch.randint(0, VOCAB, (1, p + 1))
            _, cache = net.step(seq[:, :p])
            cached = best_of(repeats, lambda: net.step(seq[:, p:], cache))
            full = best_of(repeats, lambda: net.step(seq))
            print(f"{p:>6} {cached * 1e3:>11.3f} {full * 1e3:>9.3f} {full / cached:>6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="32 new tokens, 2 repeats: checks it runs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    new_tokens, repeats = (32, 2) if args.quick else (256, args.repeats)
    prompt = torch.randint(0, VOCAB, (1, 8), generator=torch.Generator().manual_seed(0))
    print(f"model: width {WIDTH}, {LAYERS} layers, {HEADS} heads, vocab {VOCAB}; batch 1, "
          f"{new_tokens} new tokens, greedy, KV cache; best of {repeats}; {args.threads} threads")
    runs = {"genloom": ours(new_tokens, prompt), "transformers GPT2LMHeadModel": huggingface(new_tokens, prompt)}
    rates = {}
    for name, fn in runs.items():
        fn()  # warm up
        rates[name] = new_tokens / best_of(repeats, fn)
        print(f"{name:<30} {rates[name]:>9.0f} tokens/s")
    print(f"ratio genloom / transformers: {rates['genloom'] / rates['transformers GPT2LMHeadModel']:.2f}x "
          "(target >= 1.5)")
    per_token([32, 128] if args.quick else [32, 128, 512], repeats)


if __name__ == "__main__":
    main()
