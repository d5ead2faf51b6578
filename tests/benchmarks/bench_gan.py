"""The GAN through genloom's multi-player loop vs a hand-written two-optimizer loop,
then a sample grid after a fixed CPU budget.

Run: .venv/bin/python tests/benchmarks/bench_gan.py [--steps 400] [--repeats 3] [--budget 180]
  [--grid docs/images/cgan-digits.png] [--quick] [--part speed|grid]

Part 1 prints steps/s of each and the ratio: the same DCGAN (generator and
discriminator built by the plugin), digits, batch 64, non-saturating loss, Adam for
each player, one discriminator and one generator update per batch. The hand-written
loop is the textbook one: one generator forward per batch, reused (detached) by the
discriminator. genloom's players compute their own losses, so the discriminator
draws its own fakes under no_grad: one extra generator forward per batch.
Part 2 trains the conditional example (cgan-digits.yaml) for --budget seconds and
writes a 10x10 grid of EMA-generator samples, one digit class per column.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from genloom import load_config, train
from genloom.build import build_dataset, build_model

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = [
    "data.name=digits", "data.batch_size=64", "model.name=gan", "model.latent_dim=32",
    "model.loss=ns", "model.generator.channels=32", "model.discriminator.channels=32",
    "optim.lr=2e-4", "optim.betas=[0.5,0.999]", "optim.scheduler=constant", "sample.every_n_epochs=0",
    "trainer.enable_progress_bar=false",
]


def hand_written(steps: int) -> float:
    """Textbook DCGAN loop on the plugin's own networks; returns seconds."""
    start = time.perf_counter()
    torch.manual_seed(0)
    cfg = load_config(None, OVERRIDES, check_trainer=False)
    dataset = build_dataset(cfg)
    x = dataset.splits(0.1, 0.1, 0)["train"].x
    model = build_model(cfg, dataset.info)
    G, D = model.generator, model.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    done, batch = 0, 64
    while done < steps:
        order = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            real = x[order[i : i + batch]]
            fake = G(torch.randn(batch, 32))
            d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = F.softplus(-D(fake)).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            done += 1
            if done == steps:
                break
    return time.perf_counter() - start


def through_genloom(steps: int, extra: list[str] = ()) -> float:
    """The same steps through ``genloom.train`` (no validation: a GAN logs none)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, [*OVERRIDES, f"output_dir={tmp}/run", f"trainer.max_steps={steps}",
                                 "trainer.max_epochs=-1", "trainer.limit_val_batches=0", *extra])
        start = time.perf_counter()  # trainer.max_steps counts batches, for a GAN too
        with contextlib.redirect_stderr(io.StringIO()):
            result = train(cfg, echo=None)
        elapsed = time.perf_counter() - start
        done = result.trainer.fit_loop.epoch_loop.batch_progress.total.completed
        # it was 2 x steps once max_steps came to count batches: the ratio printed was doubled
        assert done == steps, f"genloom trained {done} batches, not {steps}"
        return elapsed


def speed(steps: int, repeats: int) -> None:
    import lightning  # noqa: F401  - import cost is not loop overhead; pay it up front

    load_before = os.getloadavg()[0]
    hand_written(10)  # untimed warm-up
    through_genloom(10)
    variants = {
        "hand-written two-optimizer loop": lambda: hand_written(steps),
        "genloom (no EMA)": lambda: through_genloom(steps),
        "genloom (EMA 0.99)": lambda: through_genloom(steps, ["model.ema_decay=0.99"]),
    }
    best: dict[str, float] = {}
    for _ in range(repeats):  # interleaved, so drift hits every variant alike
        for name, fn in variants.items():
            best[name] = min(best.get(name, float("inf")), fn())
    base = best["hand-written two-optimizer loop"]
    print(f"DCGAN on digits, {steps} batches (1 D + 1 G update each), batch 64, best of {repeats}, "
          f"torch threads={torch.get_num_threads()}, load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print(f"{'variant':<34} {'seconds':>8} {'steps/s':>8} {'time ratio':>10}")
    for name, t in best.items():
        print(f"{name:<34} {t:8.2f} {steps / t:8.1f} {t / base:10.2f}")


def grid(budget: float, out: Path) -> None:
    from genloom.kinds import save_samples

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(str(ROOT / "examples" / "configs" / "cgan-digits.yaml"), [
            f"output_dir={tmp}/run", "trainer.max_epochs=100000", "sample.every_n_epochs=0",
            f"trainer.max_time={{seconds: {int(budget)}}}", "trainer.limit_val_batches=0",
            "trainer.enable_progress_bar=false",
        ])
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            result = train(cfg, echo=None)
        elapsed = time.perf_counter() - start
        model = result.model
        samples = model.sample(100, cond=torch.arange(100) % 10, generator=torch.Generator().manual_seed(0))
        save_samples(samples, out, model.info)
        print(f"conditional DCGAN: {result.trainer.current_epoch} epochs, "
              f"{result.trainer.global_step // 2} generator updates in {elapsed:.0f} s -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=180.0, help="seconds of training for the grid")
    parser.add_argument("--grid", type=Path, default=ROOT / "docs" / "images" / "cgan-digits.png")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script works")
    parser.add_argument("--part", choices=("speed", "grid"), help="run only part 1 or part 2")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.budget = 30, 1, 5
        args.grid = Path(tempfile.gettempdir()) / "bench-gan-quick.png"
    if args.part != "grid":
        speed(args.steps, args.repeats)
    if args.part != "speed":
        grid(args.budget, args.grid)


if __name__ == "__main__":
    main()
