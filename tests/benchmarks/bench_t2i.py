"""Text-to-image on the captioned digits: prompt fidelity and FID against minutes of CPU training.

Run: OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_t2i.py [--minutes 0.5,1,2] [--n 50]
  [--channels 16] [--batch 32] [--steps 25] [--recipe t2i-mnist] [--set KEY=VALUE ...]

Trains the ``t2i-mnist`` recipe's model (genloom-t2i: cross-attention UNet with the pooled
prompt vector, the shipped ``text:chars`` encoder kept frozen, flow matching, caption dropout 0.1, EMA) on ``captioned_mnist`` with a plain loop
(Adam, the recipe's learning rate, no schedule) and, each time the training clock passes
one of ``--minutes``, stops the clock and runs ``prompt_fidelity`` on ``--n`` test prompts
and ``--n`` held-out combinations (the recipe's sampler, ``--steps`` steps, guidance 3). It prints a row
per budget: steps, digit accuracy on test prompts and on held-out combinations, the mean
attribute accuracy, the held-out attribute's accuracy, FID, and the second opinion of the
shipped CLIP-style scorer (``clip_score`` on the same prompts: its CLIPScore and prompt
retrieval among 10 on test prompts), with the real-data floors
and the shuffled-prompt chance level as the baseline beside them. Nothing is asserted:
timings depend on the machine and its load (printed first).

The defaults take about five minutes on one free CPU core; ``--minutes 2,5,10 --n 200``
is the long form behind the numbers in docs/text-to-image.md. ``--recipe t2i-latent-mnist``
benchmarks the latent recipe instead (its first stage made first, as its
header says; ``--set model.latent.checkpoint=RUN`` names another first stage): the latent
scale is measured on 8 training batches and the pre-trained text encoder loaded before the
clock starts, as training's fit start does.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from genloom import build_model, load_config
from genloom.build import build_dataset
from genloom.data.splits import DataSplits
from genloom_t2i.clip_metric import ClipScore
from genloom_t2i.metrics import PromptFidelity

ATTRS = ("thickness", "slant", "size", "horizontal", "vertical")


def evaluate(model, data, steps: int) -> dict[str, float]:
    model.eval()
    try:
        return {**PromptFidelity(steps=steps)(model, data), **ClipScore(steps=steps)(model, data)}
    finally:
        model.train()


def row(label: str, steps: int, out: dict[str, float], suffix: str = "") -> str:
    g = lambda k: out.get(f"test/{k}{suffix}", float("nan"))  # noqa: E731
    attr = sum(g(f"{a}_acc") for a in ATTRS) / len(ATTRS)
    fid = f"{g('fid'):7.2f}" if suffix in ("", "_floor") else "      -"
    return (f"{label:>12} {steps:>6} {g('digit_acc'):>9.2f} {g('combo_digit_acc'):>9.2f} "
            f"{attr:>8.2f} {g('combo_attr_acc'):>9.2f} {fid} "
            f"{g('clip_score'):>6.1f} {g('clip_retrieval'):>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="0.5,1,2", help="training budgets to evaluate at")
    parser.add_argument("--n", type=int, default=50, help="prompts per split per evaluation")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps per sample")
    parser.add_argument("--recipe", default="t2i-mnist", help="the packaged config to train")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, KEY=VALUE")
    args = parser.parse_args()
    budgets = sorted(float(m) * 60 for m in args.minutes.split(","))
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}")

    torch.manual_seed(0)
    cfg = load_config(args.recipe, [f"model.channels={args.channels}", f"data.batch_size={args.batch}", *args.set],
                      check_trainer=False)
    data = DataSplits(build_dataset(cfg), cfg.data)
    data.eval_n = args.n
    model = build_model(cfg, data.info)
    train = data.split("train")
    if getattr(model, "first_stage", None) is not None:  # the latent recipe: what fit start does
        firsts = range(0, 8 * args.batch, args.batch)
        model.first_stage.fit_scale([train.__getitems__(list(range(i, i + args.batch))) for i in firsts])
    if cfg.model.get("text_checkpoint"):
        model.load_text_checkpoint(cfg.model.text_checkpoint)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg.optim.lr))
    g = torch.Generator().manual_seed(0)
    header = (f"{'minutes':>12} {'steps':>6} {'digit':>9} {'combo dig':>9} {'attrs':>8} {'held attr':>9} {'FID':>7}"
              f" {'clip':>6} {'retr':>6}")
    print(header)
    results, clock, step, first = [], 0.0, 0, True
    for budget in budgets:
        while clock < budget:
            t0 = time.perf_counter()
            idx = torch.randint(0, len(train), (args.batch,), generator=g).tolist()
            opt.zero_grad(set_to_none=True)
            model.losses(train.__getitems__(idx))["loss"].backward()
            opt.step()
            model.after_optimizer_step(None)
            clock += time.perf_counter() - t0
            step += 1
        out = evaluate(model, data, args.steps)
        if first:  # the baselines: real images with their own prompts, and with shuffled ones
            print(row("real", 0, out, "_floor"))
            print(row("shuffled", 0, out, "_chance"))
            first = False
        print(row(f"{clock / 60:.2f}", step, out), flush=True)
        results.append(out)


if __name__ == "__main__":
    main()
