"""Diffusion samplers on one trained digits model: wall time and sample quality for
DDPM-1000, DDIM-50, DDIM-20 and DPM-Solver++(2M)-20, then per-step sampler overhead
against diffusers' scheduler ``step()`` on the same tensors.

Run: .venv/bin/python tests/benchmarks/bench_diffusion_samplers.py [--checkpoint RUN]
     [--train-steps 4000] [--threads 1] [--quick]
Without --checkpoint it trains an MLP-denoiser model here (minutes); the numbers in
docs/performance.md come from --checkpoint on a run of
examples/configs/diffusion-digits.yaml (the UNet).
Needs diffusers for the overhead part (pip install diffusers==0.42.1; it is in the
``dev`` extra). Prints tables; asserts nothing. Timings depend on the machine and on
what else runs on it: take numbers on a quiet machine.

Quality is a Frechet distance (lower is better) between samples and the held-out
digits (validation + test splits, 360 images), in the 64-d penultimate features of a
small CNN classifier trained on the training split in this run, like FID but with a
feature network that knows 8x8 digits. For scale, the same distance from as many
real training images to the held-out ones is printed too (mean of 5 random draws):
Frechet distances from a few hundred samples are biased upwards, so that is what
real data scores at this sample size, not a bound a sampler cannot pass.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

import genloom
from genloom import Denoiser, load_checkpoint, load_config, train
from genloom.build import build_dataset, build_model

SAMPLERS = [("ddpm", 1000), ("ddim", 50), ("ddim", 20), ("dpmpp_2m", 20), ("dpmpp_2m", 10)]


# -- the model ------------------------------------------------------------------------------


def trained_model(args: argparse.Namespace):
    """The model to sample from: ``--checkpoint``, or one trained here through genloom."""
    if args.checkpoint:
        return load_checkpoint(args.checkpoint), f"loaded from {args.checkpoint}"
    overrides = [
        "model.name=diffusion", "data.name=digits", "data.batch_size=128",
        "model.denoiser.name=mlp", "model.denoiser.hidden=512", "model.denoiser.blocks=4",
        "optim.lr=1e-3", "optim.scheduler=cosine", "optim.warmup_steps=200",
        f"trainer.max_steps={args.train_steps}", "trainer.max_epochs=-1",
        "trainer.enable_progress_bar=false", "trainer.check_val_every_n_epoch=50",
        "sample.every_n_epochs=0",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, [*overrides, f"output_dir={tmp}/run"])
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            model = train(cfg, echo=None).model
        took = time.perf_counter() - start
    params = sum(p.numel() for p in model.denoiser.parameters())
    return model.eval(), (f"trained here: mlp denoiser ({params / 1e6:.1f}M params), "
                          f"{args.train_steps} steps of batch 128 in {took:.0f} s")


# -- the quality figure ------------------------------------------------------------------------


class DigitFeatures(nn.Module):
    """A small CNN classifier for 8x8 digits; its 64-d penultimate layer is the feature space."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(), nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU(),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def feature_net(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                test_y: torch.Tensor, epochs: int) -> tuple[DigitFeatures, float]:
    torch.manual_seed(0)
    net = DigitFeatures()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            x = train_x[idx] + 0.05 * torch.randn_like(train_x[idx])  # a little robustness
            loss = nn.functional.cross_entropy(net(x), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(test_x).argmax(1) == test_y).float().mean().item()
    return net, accuracy


def statistics(net: DigitFeatures, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        f = net.body(x.clamp(-1, 1)).double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def frechet(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), via symmetric eigensolves."""
    (mu_a, s_a), (mu_b, s_b) = a, b
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_a @ s_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b)
                 - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


# -- per-step overhead -----------------------------------------------------------------------


class FixedOutput(Denoiser):
    """Returns one precomputed tensor: a denoiser call that costs (almost) nothing."""

    @dataclass
    class Config:
        pass

    output: torch.Tensor = torch.zeros(1)

    def __init__(self, cfg, data_shape, num_classes=0, timesteps=1000) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x_t, t, cond=None):
        return FixedOutput.output


def overhead(shape: tuple[int, ...], repeats: int) -> list[tuple[str, float, float]]:
    import diffusers

    cfg = load_config(None, ["model.name=diffusion", "model.denoiser.name=fixed-output",
                             "model.ema=false"], check_trainer=False)
    model = build_model(cfg, genloom.DataInfo(kind="points", shape=shape[1:])).eval()
    FixedOutput.output = torch.randn(shape) * 0.5
    abar = model.noise_schedule.alphas_cumprod
    rows = []
    for name, cls, steps, extra in [
        ("ddpm", diffusers.DDPMScheduler, 1000, {"clip_sample": False}),
        ("ddim", diffusers.DDIMScheduler, 50, {"clip_sample": False}),
        ("dpmpp_2m", diffusers.DPMSolverMultistepScheduler, 20, {}),
    ]:
        sched = cls(num_train_timesteps=1000, timestep_spacing="trailing", **extra)
        sched.alphas_cumprod = abar.float()
        ours_best = theirs_best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model.sample(shape[0], sampler=name, steps=steps, generator=torch.Generator().manual_seed(0))
            ours_best = min(ours_best, (time.perf_counter() - start) / steps)
            sched.set_timesteps(steps)
            x, g, out = torch.randn(shape), torch.Generator().manual_seed(0), FixedOutput.output
            start = time.perf_counter()
            for t in sched.timesteps:
                x = sched.step(out, t, x, generator=g).prev_sample
            theirs_best = min(theirs_best, (time.perf_counter() - start) / steps)
        rows.append((name, ours_best * 1e6, theirs_best * 1e6))
    return rows


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a trained digits diffusion run to sample from")
    parser.add_argument("--train-steps", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest for these small models on a shared CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a short check that everything runs: 200 training steps, 64 "
                             "samples, DDPM with 100 steps; the numbers mean little")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import lightning  # noqa: F401  - import cost is paid before anything is timed

    samplers = SAMPLERS
    if args.quick:
        args.train_steps = min(args.train_steps, 200)
        samplers = [("ddpm", 100), ("ddim", 50), ("ddim", 20), ("dpmpp_2m", 20), ("dpmpp_2m", 10)]

    model, origin = trained_model(args)
    data = build_dataset(load_config(None, ["data.name=digits", "model.name=diffusion"], check_trainer=False))
    splits = data.splits(0.1, 0.1, 0)
    train_split = splits["train"]
    held_x = torch.cat([splits["val"].x, splits["test"].x])
    held_y = torch.cat([splits["val"].y, splits["test"].y])
    net, accuracy = feature_net(train_split.x, train_split.y, held_x, held_y,
                                epochs=3 if args.quick else 30)
    n = 64 if args.quick else len(held_x)
    reference = statistics(net, held_x)
    draws = torch.Generator().manual_seed(1)
    real = float(np.mean([
        frechet(statistics(net, train_split.x[torch.randperm(len(train_split.x), generator=draws)[:n]]),
                reference)
        for _ in range(5)
    ]))

    print(f"model: {origin}")
    print(f"feature net: CNN, held-out accuracy {accuracy:.3f}; {n} samples per sampler, "
          f"torch threads={args.threads}")
    print(f"{'sampler':<18} {'steps':>5} {'seconds':>8} {'ms/step':>8} {'FD':>8}")
    for name, steps in samplers:
        model.sample(8, sampler=name, steps=min(steps, 5), generator=torch.Generator().manual_seed(9))
        start = time.perf_counter()
        out = model.sample(n, sampler=name, steps=steps,
                           generator=torch.Generator().manual_seed(args.seed)).data
        took = time.perf_counter() - start
        fd = frechet(statistics(net, out), reference)
        print(f"{name:<18} {steps:>5} {took:>8.2f} {took / steps * 1000:>8.2f} {fd:>8.2f}")
    print(f"{'real train digits':<18} {'':>5} {'':>8} {'':>8} {real:>8.2f}")

    print()
    repeats = 2 if args.quick else 5
    print(f"per-step sampler overhead, denoiser call excluded (best of {repeats}, microseconds)")
    genloom.register("denoiser", "fixed-output", FixedOutput)
    print(f"{'sampler':<10} {'shape':<16} {'genloom':>8} {'diffusers':>10} {'ratio':>6}")
    for shape in [(64, 1, 8, 8), (16, 3, 64, 64)]:
        for name, ours, theirs in overhead(shape, repeats):
            print(f"{name:<10} {str(shape):<16} {ours:>8.1f} {theirs:>10.1f} {ours / theirs:>6.2f}")
    print("ratio = genloom / diffusers; below 1 means less time outside the denoiser call")


if __name__ == "__main__":
    main()
