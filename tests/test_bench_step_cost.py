"""tests/benchmarks/bench_mnist_step_cost.py trains the batches it divides by.

It set ``trainer.max_steps`` to twice the batches for a GAN (two optimizer steps a
batch), but genloom's ``max_steps`` counts batches for multi-player models, so every
GAN recipe trained twice the batches and its CPU seconds per batch came out 2x.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "benchmarks" / "bench_mnist_step_cost.py"


def test_a_gan_trains_exactly_the_batches_asked_for():
    spec = importlib.util.spec_from_file_location("bench_mnist_step_cost", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    *_, trained = module._train("gan-digits", 3)
    assert trained == 3
