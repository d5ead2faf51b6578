"""``last.ckpt`` timing: every process takes rank 0's decision (save_checkpoint is a barrier)."""

from types import SimpleNamespace

import torch

from genloom.training import LastCheckpoint


class FakeStrategy:
    def __init__(self, rank0_says):
        self.rank0_says, self.asked = rank0_says, []

    def broadcast(self, obj, src=0):
        self.asked.append((obj, src))
        return self.rank0_says


def trainer(strategy):
    saved = []
    t = SimpleNamespace(strategy=strategy, sanity_checking=False, global_step=5,
                        save_checkpoint=lambda path: saved.append(path))
    return t, saved


def test_a_process_whose_clock_says_due_follows_rank_zero(tmp_path):
    callback = LastCheckpoint(tmp_path / "last.ckpt", min_seconds=0.0)  # locally always due
    t, saved = trainer(FakeStrategy(rank0_says=False))
    callback.on_train_epoch_end(t, torch.nn.Linear(1, 1))
    assert saved == [] and t.strategy.asked == [(True, 0)]
    t, saved = trainer(FakeStrategy(rank0_says=True))
    callback.on_train_epoch_end(t, torch.nn.Linear(1, 1))
    assert saved == [str(tmp_path / "last.ckpt")]
