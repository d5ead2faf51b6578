"""Within-class diversity of the class-conditional GAN: does it draw one sample per class?

Run: .venv/bin/python tests/benchmarks/bench_cgan_diversity.py [--config cgan-digits]
  [--steps 600] [--variant "name=override override ..."] [--quick]

Trains the packaged recipe (and each ``--variant``: a name, ``=``, space-separated
overrides) for ``--steps`` generator updates, then draws 100 samples per class from
the sampling (EMA) generator and reads them, and as many held-out real images per
class, through the shipped digit classifier's features. Printed per variant:

- ``diversity``: mean pairwise feature distance within a class, fakes over reals,
  averaged over classes (1.0: as varied as the data; near 0: one image per class);
- ``recall`` / ``coverage``: PRDC (k=5) per class, averaged (genloom_eval.metrics.manifold);
- ``cond acc``: how often the classifier reads the class the generator was asked for;
- wall seconds of training.
``--before`` adds the discriminator as it was before the fix (its label projection
initialised N(0, 1), nn.Embedding's default, instead of at the head's scale).
Same seed and config give the same numbers; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time

import torch
from torch import nn

from genloom import load_config, train
from genloom.build import build_dataset
from genloom_eval.metrics.classifier import load_classifier
from genloom_eval.metrics.manifold import prdc

PER_CLASS = 100


def features(images: torch.Tensor, dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, predicted class) of images in [-1, 1] (the classifier crops padding)."""
    clf = load_classifier(dataset)
    with torch.no_grad():
        return clf.features(images), clf(images).argmax(1)


def _old_projection(num_classes: int, dim: int) -> nn.Embedding | None:
    """The projection embedding before the fix: nn.Embedding's N(0, 1) init."""
    return nn.Embedding(num_classes, dim) if num_classes else None


def measure(config: str, steps: int, overrides: list[str], before: bool = False) -> dict[str, float]:
    from genloom_gan import networks

    fixed = networks.projection_embedding
    networks.projection_embedding = _old_projection if before else fixed
    try:
        return _measure(config, steps, overrides)
    finally:
        networks.projection_embedding = fixed


def _measure(config: str, steps: int, overrides: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(config, [
            f"output_dir={tmp}/run", f"trainer.max_steps={2 * steps}", "trainer.max_epochs=-1",
            "trainer.limit_val_batches=0", "sample.every_n_epochs=0",
            "checkpoint.every_n_epochs=0", "trainer.enable_progress_bar=false", *overrides,
        ])
        start = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            result = train(cfg, echo=None)
        wall = time.perf_counter() - start
    model = result.model.eval()
    dataset = str(cfg.data.name).rpartition(":")[2]
    x, y = _real(cfg)
    classes = int(model.info.num_classes)
    cond = torch.arange(classes).repeat_interleave(PER_CLASS)
    with torch.no_grad():
        fake = model.sample(len(cond), cond=cond, generator=torch.Generator().manual_seed(0))
    fake = fake.data
    f_fake, pred = features(fake.float(), dataset)
    f_real, _ = features(x.float(), dataset)
    ratios, recalls, coverages = [], [], []
    for c in range(classes):
        a, b = f_fake[cond == c], f_real[y == c][:PER_CLASS]
        ratios.append(float(torch.pdist(a).mean() / torch.pdist(b).mean()))
        scores = prdc(b, a)
        recalls.append(scores["recall"])
        coverages.append(scores["coverage"])
    n = len(ratios)
    return {"diversity": sum(ratios) / n, "min_class_diversity": min(ratios),
            "recall": sum(recalls) / n, "coverage": sum(coverages) / n,
            "cond_acc": float((pred == cond).float().mean()), "seconds": wall}


def _real(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out real images and labels (the run's test split) in the model's data space."""
    split = build_dataset(cfg).splits(cfg.data.val_fraction, cfg.data.test_fraction, cfg.seed)["test"]
    return split.x, split.y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cgan-digits")
    parser.add_argument("--steps", type=int, default=600, help="generator updates")
    parser.add_argument("--variant", action="append", default=[],
                        help='"name=override override": a run beside the recipe as shipped')
    parser.add_argument("--before", action="store_true",
                        help="add the N(0, 1) projection init the recipe had before the fix")
    parser.add_argument("--no-baseline", action="store_true", help="skip the recipe as shipped")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script works")
    args = parser.parse_args()
    if args.quick:
        args.steps = 10
    variants: dict[str, tuple[list[str], bool]] = {} if args.no_baseline else {"as shipped": ([], False)}
    if args.before:
        variants["before (N(0,1) projection)"] = ([], True)
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        variants[name] = (rest.split(), False)
    print(f"{args.config}, {args.steps} generator updates, {PER_CLASS} samples/class, "
          f"load {os.getloadavg()[0]:.2f}, torch threads={torch.get_num_threads()}")
    print(f"{'variant':<28} {'diversity':>9} {'min cls':>7} {'recall':>6} {'coverage':>8} "
          f"{'cond acc':>8} {'seconds':>7}")
    for name, (overrides, before) in variants.items():
        r = measure(args.config, args.steps, overrides, before)
        print(f"{name:<28} {r['diversity']:9.3f} {r['min_class_diversity']:7.3f} {r['recall']:6.3f} "
              f"{r['coverage']:8.3f} {r['cond_acc']:8.3f} {r['seconds']:7.1f}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
