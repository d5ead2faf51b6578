"""What the VAE's fitted prior (``model.prior=gmm``) buys, on the same weights.

Run: .venv/bin/python tests/benchmarks/bench_vae_prior.py [--config vae-mnist]
  [--epochs 20] [--n 500] [--variant "name=override override ..."]

Trains the recipe (and each ``--variant``: a name, ``=``, space-separated overrides
applied on top, ``model.prior=gmm`` always) for ``--epochs`` epochs, then scores the
trained model twice with the code behind ``genloom evaluate`` (FID, class shares,
precision/recall on ``--n`` samples): sampled from the fitted mixture, and sampled from
N(0, I) (``model.default_sampler = "prior"``) on the very same weights. Printed per
variant: batches, process CPU seconds and wall seconds of training, and both scores,
with the machine's load average before and after. Same seed and config give the same
numbers (wall and CPU seconds aside).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from genloom import load_config, train
from genloom_eval.evaluation import evaluate_model

KEYS = ("fid", "class_min_share", "precision", "recall")


def measure(config: str, overrides: list[str], epochs: int, n: int, out: str) -> dict:
    """Train once; score the fitted mixture and N(0, I) on the same weights."""
    cfg = load_config(config, [*overrides, "model.prior=gmm", f"trainer.max_epochs={epochs}",
                               f"output_dir={out}", "trainer.enable_progress_bar=false",
                               "sample.every_n_epochs=0", "checkpoint.every_n_epochs=0"])
    wall, cpu = time.monotonic(), time.process_time()
    run = train(cfg, echo=None)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    model = run.model.cpu().eval()
    row = {"batches": run.trainer.fit_loop.epoch_loop.batch_progress.total.completed,
           "cpu_s": cpu, "wall_s": wall}
    for label in ("mixture", "normal"):
        if label == "normal":
            model.default_sampler = "prior"  # the N(0, I) the ELBO trained against
        scores = evaluate_model(model, ["fid", "classes", "prdc"], n)
        row[label] = {k: scores[f"test/{k}"] for k in KEYS}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="vae-mnist")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--variant", action="append", default=[],
                        help='"name=override override ..." (repeatable); none: the recipe as shipped')
    args = parser.parse_args()
    variants = [v.split("=", 1) for v in args.variant] or [["recipe", ""]]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, overrides) in enumerate(variants):
            row = measure(args.config, overrides.split(), args.epochs, args.n, f"{tmp}/{i}")
            mix, nor = row["mixture"], row["normal"]
            print(f"{name}: {row['batches']} batches, {row['cpu_s']:.1f} CPU s, {row['wall_s']:.1f} s | "
                  f"mixture FID {mix['fid']:.1f}, rarest class {mix['class_min_share']:.3f}, "
                  f"precision {mix['precision']:.3f}, recall {mix['recall']:.3f} | "
                  f"N(0, I) FID {nor['fid']:.1f}, rarest class {nor['class_min_share']:.3f}, "
                  f"precision {nor['precision']:.3f}, recall {nor['recall']:.3f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
