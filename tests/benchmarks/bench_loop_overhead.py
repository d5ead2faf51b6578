"""Loop overhead: the VAE on digits through genloom's training loop vs a hand-written
PyTorch loop, same model, data, batch size, optimizer and number of steps, in one run.

Run: .venv/bin/python tests/benchmarks/bench_loop_overhead.py [--steps 660] [--repeats 3]
Prints the best time of each and the ratio genloom / hand-written (target <= 1.10).
With --profile it also prints where the genloom run (no validation) spends its time.
With --split it also times every variant at twice the steps and separates the two
costs a total time mixes: the cost per training step (the slope between the two step
counts: the loop itself) and the fixed cost of a run (the intercept: building data and
model, the run folder, the final checkpoint), printing the ratio of each, and the same
slope in process CPU time (``cpu ms/step``: on a machine other jobs share, the wall clock
counts their time too; with one torch thread the CPU time is the loop's own).
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
from genloom.build import build_dataset, build_model

OVERRIDES = [
    "data.name=digits", "data.batch_size=64", "model.name=vae", "model.latent_dim=8",
    "optim.lr=2e-3", "optim.scheduler=constant", "sample.every_n_epochs=0",
]


def hand_written(steps: int) -> tuple[float, float, float]:
    """The baseline: randperm + slicing, Adam, the model's own loss; no framework."""
    start, cpu = time.perf_counter(), time.process_time()
    torch.manual_seed(0)
    cfg = load_config(None, OVERRIDES, check_trainer=False)
    dataset = build_dataset(cfg)
    train_set = dataset.splits(0.1, 0.1, 0)["train"]
    x = train_set.x
    model = build_model(cfg, dataset.info)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    done, batch = 0, 64
    while done < steps:
        order = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            loss = model.losses({"x": x[order[i : i + batch]]})["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start, loss.item(), time.process_time() - cpu


def through_genloom(steps: int, extra: list[str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, [*OVERRIDES, f"output_dir={tmp}/run", f"trainer.max_steps={steps}",
                                 "trainer.max_epochs=-1", *extra])
        start, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar still renders
            result = train(cfg, echo=None)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        done = result.trainer.fit_loop.epoch_loop.batch_progress.total.completed
        assert done == steps, f"genloom trained {done} batches, not {steps}"
        return elapsed, float(result.trainer.callback_metrics.get("train/loss", float("nan"))), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=660)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--split", action="store_true",
                        help="also time 2x the steps: per-step cost and fixed cost apart")
    parser.add_argument("--profile", action="store_true",
                        help="also print cProfile's top entries for the genloom run")
    args = parser.parse_args()
    import lightning  # noqa: F401  - import cost is not loop overhead; pay it up front

    makers = {
        "hand-written loop": lambda n: (lambda: hand_written(n)),
        "genloom, default run (val, ckpt, bar)": lambda n: (lambda: through_genloom(n, [])),
        "genloom, no validation": lambda n: (
            lambda: through_genloom(n, ["trainer.limit_val_batches=0"])
        ),
    }
    variants = {name: make(args.steps) for name, make in makers.items()}
    if args.split:
        variants.update({f"{name} @2x": make(2 * args.steps) for name, make in makers.items()})
    load_before = os.getloadavg()[0]
    hand_written(20)  # untimed warm-up: one-time imports (scikit-learn) and first torch ops
    through_genloom(20, ["trainer.limit_val_batches=0"])
    best: dict[str, tuple[float, float]] = {}
    cpu_best: dict[str, float] = {}
    for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
        for name, fn in variants.items():
            t, loss, cpu = fn()
            if name not in best or t < best[name][0]:
                best[name] = (t, loss)
            cpu_best[name] = min(cpu, cpu_best.get(name, cpu))
    base = best["hand-written loop"][0]
    print(f"VAE on digits, {args.steps} steps of batch 64, best of {args.repeats}, "
          f"torch threads={torch.get_num_threads()}, load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print(f"{'variant':<40} {'seconds':>8} {'ratio':>6} {'final loss':>11}")
    for name, (t, loss) in best.items():
        if not name.endswith(" @2x"):
            print(f"{name:<40} {t:8.2f} {t / base:6.2f} {loss:11.2f}")
    if args.split:
        print(f"\nper step = (time at {2 * args.steps} - time at {args.steps}) / {args.steps}; "
              "fixed = time at N - N x per step")
        print(f"{'variant':<40} {'ms/step':>8} {'ratio':>6} {'fixed s':>8} {'ratio':>6} "
              f"{'cpu ms/step':>11} {'ratio':>6}")
        costs = {}
        for name in makers:
            once, twice = best[name][0], best[f"{name} @2x"][0]
            per_step = (twice - once) / args.steps
            cpu_step = (cpu_best[f"{name} @2x"] - cpu_best[name]) / args.steps
            costs[name] = (per_step, once - args.steps * per_step, cpu_step)
        base_step, base_fixed, base_cpu = costs["hand-written loop"]
        for name, (per_step, fixed, cpu_step) in costs.items():
            print(f"{name:<40} {1000 * per_step:8.3f} {per_step / base_step:6.2f} "
                  f"{fixed:8.2f} {fixed / base_fixed if base_fixed > 0 else float('nan'):6.2f} "
                  f"{1000 * cpu_step:11.3f} {cpu_step / base_cpu:6.2f}")
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(through_genloom, args.steps, ["trainer.limit_val_batches=0"])
        print("\nwhere genloom's time goes (cumulative seconds, under cProfile):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(
            r"(optimizer|closure|_call_callback_hooks|model_checkpoint|tqdm_progress|module.py.*log|"
            r"losses|training_step|backward|evaluation_loop|logger_connector|batch_to_device)", 30
        )


if __name__ == "__main__":
    main()
