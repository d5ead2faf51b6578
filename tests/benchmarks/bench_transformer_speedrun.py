"""The nanoGPT speed-run options of the transformer plugin, each beside the shipped recipe.

Every variant trains ``examples/configs/transformer-pydoc.yaml`` at nanoGPT's baby
setting (batches of 12 windows of 64 characters, 4 layers, 4 heads, width 128; the
same as bench_nanogpt_parity.py) for the same ``--steps``, and is scored on the same
held-out text (the test split, fixed 64-character windows) in bits per character.
The variants: the recipe as shipped, then one option each (QK-norm, squared-ReLU MLP,
zero-initialised output projections, logit soft-cap, untied output layer, the Muon
optimizer), then all of them together. Printed: held-out bpc, its difference to the
recipe, wall seconds of training (setup included) and the machine's load.

The issue's anchor: nanoGPT's baby recipe reaches about 2.08 bpc after 2,000 steps;
the speed-run target is to reach it in at most a third of them (``--steps 667``).

Run:  .venv/bin/python tests/benchmarks/bench_transformer_speedrun.py [--steps 667]
  [--only muon,all] [--seeds 1];  --steps 20 checks that it runs. Timings on a shared
  machine are noisy; bpc is reproducible for a seed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nanogpt_parity import BLOCK, RECIPE, held_out_bpc, train_genloom  # noqa: E402

from genloom import load_config  # noqa: E402
from genloom.build import build_dataset  # noqa: E402

MUON = ["optim.name=muon", "optim.init_args={muon_lr: 0.02, betas: [0.9, 0.99]}"]
OPTIONS = {
    "qk_norm": ["model.qk_norm=true"],
    "relu2": ["model.activation=relu2"],
    "zero_init": ["model.zero_init=true"],
    "softcap": ["model.logit_softcap=10"],
    "untied": ["model.tied=false"],
    "muon": MUON,
}
VARIANTS = {"shipped": [], **OPTIONS, "all": [o for v in OPTIONS.values() for o in v]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=667)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--only", default="",
                        help="comma-separated variants (the shipped one runs unless --no-shipped)")
    parser.add_argument("--no-shipped", action="store_true",
                        help="skip the recipe as shipped (differences are then to the first variant)")
    parser.add_argument("--variant", action="append", default=[],
                        help='an extra "name=override override ..." variant')
    args = parser.parse_args()
    torch.set_num_threads(1)
    variants = dict(VARIANTS)
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        variants[name] = rest.split()
    if args.only:
        keep = {"shipped", *args.only.split(",")}
        variants = {k: v for k, v in variants.items() if k in keep}
    if args.no_shipped:
        variants.pop("shipped")
    cfg = load_config(RECIPE, [f"data.block_size={BLOCK}"], check_trainer=False)
    dataset = build_dataset(cfg)
    test_ids = dataset.splits(cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_seed)["test"].tokens
    print(f"transformer-pydoc at 12 x {BLOCK} characters, {args.steps} steps, {args.seeds} seed(s), "
          f"1 thread, load {os.getloadavg()[0]:.2f}")
    print(f"{'variant':<12} {'held-out bpc':>12} {'vs shipped':>10} {'seconds':>8}")
    base = None
    for name, overrides in variants.items():
        bpcs, secs = [], []
        for seed in range(args.seeds):
            model, seconds = train_genloom(args.steps, seed, overrides)
            bpcs.append(held_out_bpc(lambda x, m=model: m.net.step(x)[0], test_ids))
            secs.append(seconds)
        bpc, sec = sum(bpcs) / len(bpcs), sum(secs) / len(secs)
        base = bpc if base is None else base
        print(f"{name:<12} {bpc:12.4f} {bpc - base:+10.4f} {sec:8.1f}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
