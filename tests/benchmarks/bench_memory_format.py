"""Channels-last weights and ``torch.compile`` against the default layout: process CPU
seconds per training batch of packaged recipes, on this machine.

Each variant builds the recipe's model from the same seed and takes the same batches
(forward, the model's own losses, backward, Adam; every player of a GAN), interleaved
round by round so that a change in the machine's load hits every variant alike; the
best round counts. ``compile`` compiles every top-level submodule that has parameters
(``nn.Module.compile``) and reports the compilation's CPU seconds separately: what a run
pays before the first faster batch (less when Inductor's cache in the temporary folder
already holds the kernels from an earlier run). ``default`` and ``compile`` set
``channels_last=false`` whatever the recipe says.

    OMP_NUM_THREADS=1 python tests/benchmarks/bench_memory_format.py \
        --recipes flow-unet-mnist,cgan-fast-mnist --variants default,channels_last,compile
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from genloom.build import build_dataset, build_model
from genloom.config import load_config

VARIANTS = ("default", "channels_last", "compile")


def batches(cfg, count: int) -> list[dict[str, torch.Tensor]]:
    x, y = build_dataset(cfg).arrays()
    size = int(cfg.data.batch_size)
    return [{"x": x[i * size:(i + 1) * size], **({} if y is None else {"y": y[i * size:(i + 1) * size]})}
            for i in range(count)]


def step(model, optimizer, batch) -> None:
    groups = model._groups()
    for player in [g.name for g in groups] if groups else [None]:
        losses = model.losses(batch, player) if player else model.losses(batch)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()


def measure(recipe: str, variants: list[str], timed: int, rounds: int) -> list[tuple[str, float, float]]:
    """(variant, best CPU s a batch, CPU s spent compiling) for each variant."""
    data = batches(load_config(recipe), timed + 3)
    built = {}
    for variant in variants:
        overrides = [f"channels_last={'true' if variant == 'channels_last' else 'false'}"]
        cfg = load_config(recipe, overrides)
        torch.manual_seed(0)
        model = build_model(cfg, build_dataset(cfg).info)
        optimizer = torch.optim.Adam(model.parameters(), 1e-4)
        compile_s = 0.0
        if variant == "compile":
            began = time.process_time()
            for child in model.children():
                if any(True for _ in child.parameters()):
                    child.compile()
            step(model, optimizer, data[0])
            step(model, optimizer, data[1])  # the second call may compile the backward again
            compile_s = time.process_time() - began
        built[variant] = (model, optimizer, compile_s)
    best = {v: float("inf") for v in variants}
    for _ in range(rounds):
        for variant in variants:
            model, optimizer, _ = built[variant]
            step(model, optimizer, data[2])  # warm-up
            began = time.process_time()
            for batch in data[3:]:
                step(model, optimizer, batch)
            best[variant] = min(best[variant], (time.process_time() - began) / timed)
    return [(v, best[v], built[v][2]) for v in variants]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="flow-unet-mnist,cgan-fast-mnist,vae-conv-mnist,diffusion-mnist")
    parser.add_argument("--variants", default="default,channels_last")
    parser.add_argument("--batches", type=int, default=9, help="timed batches a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown or variants[0] != "default":
        parser.error(f"--variants: start with default, then any of {', '.join(VARIANTS[1:])}")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    print(f"torch threads={torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} before")
    print(f"{'recipe':22s}{'variant':15s}{'CPU s/batch':>12s}{'ratio':>7s}{'compile CPU s':>15s}")
    for recipe in args.recipes.split(","):
        rows = measure(recipe, variants, args.batches, args.rounds)
        for variant, seconds, compile_s in rows:
            print(f"{recipe:22s}{variant:15s}{seconds:12.4f}{seconds / rows[0][1]:7.2f}{compile_s:15.1f}")
    print(f"load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
