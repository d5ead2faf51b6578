"""Speed of an imported Llama-shaped model: genloom against ``transformers`` on the same weights.

A random-weight ``LlamaForCausalLM`` (width 256, 6 layers, 8 query / 4 key-value heads,
SwiGLU 520, vocab 2048, untied head) is saved locally, imported with
``genloom_transformer.hf.import_hf`` and run in both libraries, float32, on CPU:

1. forward: tokens/s of one full pass over a (4, 256) batch (inference mode);
2. generation: tokens/s of 128 new tokens at batch 1, greedy, both with their KV cache
   (genloom's decoding loop vs ``generate(do_sample=False)``); the two must produce
   the same tokens, which is checked and printed.

The ratio genloom / transformers is printed for each. Test-only dependency:
``transformers`` (in the dev extra). Run:
  .venv/bin/python tests/benchmarks/bench_hf_import.py [--quick] [--repeats 5] [--threads 2]
Timings on a shared or busy machine are noisy: take final numbers on a quiet one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "transformer" / "tests"))

SHAPE = dict(width=256, layers=6, heads=8, kv_heads=4, context=1024, vocab=2048)


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats: checks it runs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers
    from hf_models import make_model

    from genloom_text.decoding.loop import generate
    from genloom_transformer.hf import import_hf

    repeats = 2 if args.quick else args.repeats
    batch, length, new_tokens = (2, 64, 16) if args.quick else (4, 256, 128)
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_model("llama", Path(tmp) / "llama", **SHAPE)
        ours = import_hf(folder).net.eval()
        theirs = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    n_params = sum(p.numel() for p in theirs.parameters())
    print(f"Llama shape: {SHAPE}, {n_params:,} parameters; float32, {args.threads} threads, best of {repeats}")

    x = torch.randint(0, SHAPE["vocab"], (batch, length), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = (ours.step(x)[0] - theirs(x).logits).abs().max().item()
        rates = {
            "genloom": batch * length / best_of(repeats, lambda: ours.step(x)),
            "transformers": batch * length / best_of(repeats, lambda: theirs(x)),
        }
    print(f"\nforward, batch {batch} x {length} tokens (max |logit difference| {diff:.1e})")
    for name, rate in rates.items():
        print(f"  {name:<14} {rate:>10.0f} tokens/s")
    print(f"  ratio genloom / transformers: {rates['genloom'] / rates['transformers']:.2f}x")

    prompt = x[:1, :8]
    out: dict[str, list[int]] = {}

    def run_ours():
        out["genloom"] = generate(ours, prompt, 1, max_new_tokens=new_tokens, greedy=True)[0][0].tolist()

    def run_theirs():
        with torch.inference_mode():
            out["transformers"] = theirs.generate(
                prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                min_new_tokens=new_tokens, do_sample=False, use_cache=True)[0].tolist()

    rates = {}
    for name, fn in (("genloom", run_ours), ("transformers", run_theirs)):
        fn()  # warm up
        rates[name] = new_tokens / best_of(repeats, fn)
    same = out["genloom"][-new_tokens:] == out["transformers"][-new_tokens:]
    print(f"\ngeneration, batch 1, {new_tokens} new tokens, greedy, KV cache (same tokens: {same})")
    for name, rate in rates.items():
        print(f"  {name:<14} {rate:>10.0f} tokens/s")
    print(f"  ratio genloom / transformers: {rates['genloom'] / rates['transformers']:.2f}x")


if __name__ == "__main__":
    main()
