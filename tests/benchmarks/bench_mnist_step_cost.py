"""CPU seconds per training batch of each packaged MNIST recipe: how many batches fit in 5 minutes.

Run: OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_mnist_step_cost.py
  [--recipes vae-mnist,gan-mnist,...] [--batches 20] [--quick]

Why: on a shared machine wall-clock time to good samples changes with the load, but the
*batches* to a target do not (``genloom bench --until 'fid<=3x'`` reports them) and
neither, nearly, do the *CPU seconds* one batch costs. Their product estimates the time
to the target on a quiet machine with one torch thread. This script measures the
second factor through the real training loop (``genloom.train``, validation, sample
grids and checkpoints off): after one untimed batch (imports, data), each recipe trains ``--batches`` and then ``3 x --batches``
batches from scratch, and the difference of the two runs' process CPU time over the
``2 x --batches`` extra batches is the cost of one batch without the setup. Printed per
recipe: CPU seconds per batch, the batches one quiet thread makes in 5 and in 15
minutes, the parameters, and the load average beside them (wall time / CPU time > 1
means other jobs took the core).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time

import torch

from genloom import load_config, train

RECIPES = ["vae-mnist", "vae-conv-mnist", "gan-mnist", "cgan-mnist", "cgan-fast-mnist", "diffusion-mnist", "flow-mnist", "flow-unet-mnist", "flow-fast-mnist"]


def _train(recipe: str, batches: int) -> tuple[float, float, int, int]:
    """(process CPU seconds, wall seconds, parameters, batches trained) of ``batches``
    training batches."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(recipe, [f"output_dir={tmp}/run", "trainer.max_epochs=-1",
                                   "trainer.limit_val_batches=0", "sample.every_n_epochs=0",
                                   "checkpoint.every_n_epochs=0", "trainer.enable_progress_bar=false"])
        # trainer.max_steps counts batches, also for a GAN's two players (genloom.training);
        # multiplying it by the players, as this script once did, trained twice the batches
        cfg.trainer.max_steps = batches
        cpu, wall = time.process_time(), time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            result = train(cfg, echo=None)
        params = sum(p.numel() for p in result.model.parameters())
        trained = result.trainer.fit_loop.epoch_loop.total_batch_idx + 1
        return time.process_time() - cpu, time.perf_counter() - wall, params, trained


def measure(recipe: str, batches: int) -> dict[str, float]:
    """CPU and wall seconds per batch of ``recipe`` (setup excluded) and its parameters."""
    _train(recipe, 1)  # the first run in a process also pays for imports and loading the data
    cpu1, wall1, params, n1 = _train(recipe, batches)
    cpu3, wall3, _, n3 = _train(recipe, 3 * batches)
    n = n3 - n1
    return {"cpu": (cpu3 - cpu1) / n, "wall": (wall3 - wall1) / n, "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated packaged recipes")
    parser.add_argument("--batches", type=int, default=20, help="batches of the shorter of the two runs")
    parser.add_argument("--quick", action="store_true", help="5 and 15 batches of vae-mnist, to check the script")
    args = parser.parse_args()
    recipes = args.recipes.split(",")
    if args.quick:
        recipes, args.batches = ["vae-mnist"], 5
    print(f"{args.batches} and {3 * args.batches} batches per recipe, torch threads={torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'recipe':<16} {'CPU s/batch':>11} {'wall s/batch':>12} {'batches in 5 min':>16} "
          f"{'in 15 min':>9} {'parameters':>11}")
    for recipe in recipes:
        r = measure(recipe, args.batches)
        cpu = max(r["cpu"], 1e-9)
        print(f"{recipe:<16} {r['cpu']:11.3f} {r['wall']:12.3f} {300 / cpu:16,.0f} {900 / cpu:9,.0f} "
              f"{r['params']:11,}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
