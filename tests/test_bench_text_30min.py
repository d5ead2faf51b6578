"""The pieces of tests/benchmarks/bench_text_30min.py that its numbers rest on."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))
import bench_text_30min as bench  # noqa: E402


def test_xz_counts_only_the_bits_the_test_text_adds_after_its_prefix():
    rng = random.Random(0)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz \n") for _ in range(20000))
    alone = bench.xz_bits_per_char("", text)
    after_itself = bench.xz_bits_per_char(text, text)  # a repeat costs a few back-references
    after_other = bench.xz_bits_per_char("zq" * 3000, text)
    assert after_itself < 0.05 * alone
    assert abs(after_other - alone) < 0.1 * alone


def test_the_budget_callback_counts_cpu_seconds_not_wall_seconds():
    trainer = SimpleNamespace(should_stop=False)
    callback = bench.cpu_budget_stop(bench.cpu_seconds(), budget=0.1)
    time.sleep(0.3)  # wall time passes, CPU time hardly does: a busy machine
    callback.on_train_batch_end(trainer)
    assert trainer.should_stop is False
    start = bench.cpu_seconds()
    while bench.cpu_seconds() - start < 0.15:  # burn the budget
        sum(i * i for i in range(10000))
    callback.on_train_batch_end(trainer)
    assert trainer.should_stop is True


def test_the_plain_score_is_the_old_one_and_counts_characters_per_token():
    """held_out (through dynamic_eval at lr 0) gives the number bench_nanogpt_parity's
    held_out_bpc gave for characters, and divides by characters, not tokens, for
    multi-character tokens (BPE)."""
    import torch
    from bench_nanogpt_parity import held_out_bpc
    from genloom_transformer.network import Transformer

    torch.manual_seed(0)
    net = Transformer(7, 16, width=16, layers=1, heads=2, positions="rotary").eval()
    ids = torch.randint(0, 7, (200,))
    chars = SimpleNamespace(net=net, count_chars=lambda t: t.new_tensor(t.numel()))
    pairs = SimpleNamespace(net=net, count_chars=lambda t: 2 * t.new_tensor(t.numel()))
    plain = bench.held_out(chars, ids, 16).bpc
    assert abs(plain - held_out_bpc(lambda x: net.step(x)[0], ids, 16)) < 1e-5
    assert abs(bench.held_out(pairs, ids, 16).bpc - plain / 2) < 1e-6
    assert bench.held_out(chars, ids, 16, lr=0.05).bpc != plain  # the dynamic mode is another number
