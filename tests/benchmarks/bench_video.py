"""Video metrics against minutes of CPU training (printed, not asserted).

Run: .venv/bin/python tests/benchmarks/bench_video.py [--minutes 1 3] [--gif plugins/video/clips.gif]

For each budget, trains the ``video-mnist`` example (space-time diffusion, 8 frames of
16x16 Moving MNIST) from scratch for that many minutes (``trainer.max_time``), then
prints per-frame FID, identity and smoothness of 64 samples (DDIM, 50 steps) beside
the real-data floors, and the ratio of each to its floor, for both tasks: ``generate``
(clips from nothing) and ``predict`` (continuing held-out first frames). The baseline
is the untrained model (0 minutes), which is noise. ``--gif`` writes 16 unconditional
samples of the last budget as an animated GIF.
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


def run(minutes: float, out: str) -> tuple[dict[str, dict[str, float]], object]:
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits

    over = [f"output_dir={out}", "trainer.max_epochs=1000", "sample.every_n_epochs=0",
            f"trainer.max_time=00:00:{int(minutes * 60) // 60:02d}:{int(minutes * 60) % 60:02d}"]
    if minutes == 0:
        over += ["trainer.max_steps=1", "optim.lr=0"]
    cfg = load_config("video-mnist", over)
    with contextlib.redirect_stderr(io.StringIO()):
        result = train(cfg)
    model = result.model.eval()
    dm = DataSplits(build_dataset(cfg), cfg.data)
    dm.eval_n = 64
    from genloom_video.metrics import Video

    with torch.no_grad():
        return {task: Video(task=task)(model, dm) for task in ("generate", "predict")}, model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--gif", default=None)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rows = []
    for minutes in [0.0, *args.minutes]:
        with tempfile.TemporaryDirectory() as out:
            t = time.time()
            scores, model = run(minutes, out)
            rows.append((minutes, scores, time.time() - t))
            if args.gif and minutes == args.minutes[-1]:
                from genloom.kinds import save_samples

                save_samples(model.sample(16, generator=torch.Generator().manual_seed(0), steps=50), args.gif)
    keys = ["frame_fid", "identity", "smoothness", "speed"]
    print("| minutes | task | " + " | ".join(f"{k} (floor, ratio)" for k in keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for minutes, by_task, _ in rows:
        for task, s in by_task.items():
            cells = []
            for k in keys:
                v, f = s[f"test/{k}"], s[f"test/{k}_floor"]
                cells.append(f"{v:.3g} ({f:.3g}, {v / f if f else float('nan'):.2f}x)")
            print(f"| {minutes:g} | {task} | " + " | ".join(cells) + " |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
