"""The core's training loop: one optimizer, several players, schedules."""

import math

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader

from genloom import GenerativeModel, OptimizerGroup
from genloom.config import OptimConfig
from genloom.data.base import TensorBatches, identity_collate
from genloom.lightning_module import TrainingModule
from genloom.optim import lr_factor


class TwoPlayers(GenerativeModel):
    """Two regressors on the same data; 'slow' steps every third batch."""

    def __init__(self, optim=None):
        super().__init__()
        self.fast, self.slow = nn.Linear(3, 1), nn.Linear(3, 1)
        self.calls = {"fast": 0, "slow": 0}
        self.optim_cfg = optim

    def optimizer_groups(self):
        return [OptimizerGroup("fast", self.fast), OptimizerGroup("slow", self.slow, every_n_steps=3)]

    def losses(self, batch, player=None):
        self.calls[player] += 1
        net = self.fast if player == "fast" else self.slow
        # the other player's parameters are frozen while this one steps
        other = self.slow if player == "fast" else self.fast
        assert all(not p.requires_grad for p in other.parameters())
        return {"loss": (net(batch["x"]).squeeze(1) - batch["x"].sum(1)).pow(2).mean()}


def loader(n=64, batch=8):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorBatches(x), batch_size=batch, shuffle=True, collate_fn=identity_collate)


def fit(model, steps, **kwargs):
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, **kwargs)
    trainer.fit(TrainingModule(model), train_dataloaders=loader())
    return trainer


def test_players_step_at_their_own_rate_and_learn():
    torch.manual_seed(0)
    model = TwoPlayers(OmegaConf.structured(OptimConfig(lr=0.05)))
    assert not TrainingModule(model).automatic_optimization
    with torch.no_grad():
        x = torch.randn(256, 3)
        before = {n: (getattr(model, n)(x).squeeze(1) - x.sum(1)).pow(2).mean() for n in model.calls}
    trainer = fit(model, steps=30)
    # Lightning's global_step (and so max_steps) counts every optimizer's steps
    assert trainer.global_step == 30
    assert model.calls == {"fast": 22, "slow": 8}  # batches 0, 3, ..., 21 step 'slow' too
    with torch.no_grad():
        after = {n: (getattr(model, n)(x).squeeze(1) - x.sum(1)).pow(2).mean() for n in model.calls}
    assert after["fast"] < 0.2 * before["fast"] and after["slow"] < before["slow"]


@pytest.mark.parametrize("clip", [1e-6, 0.0])
def test_gradient_clipping_and_per_player_lr_in_manual_mode(clip):
    # plain SGD: a step is lr times the gradient, so its size shows whether the gradient
    # was clipped (Adam's step does not depend on the gradient's scale)
    cfg = OmegaConf.structured(OptimConfig(name="sgd", momentum=0.0, lr=0.05, gradient_clip=clip,
                                           groups={"slow": {"lr": 0.0}}))
    model = TwoPlayers(cfg)
    slow_before = [p.clone() for p in model.slow.parameters()]
    fast_before = [p.clone() for p in model.fast.parameters()]
    trainer = fit(model, steps=6)
    assert [o.param_groups[0]["lr"] for o in trainer.optimizers] == [0.05, 0.0]
    assert all(torch.equal(a, b) for a, b in zip(slow_before, model.slow.parameters()))
    moved = torch.cat([(a - b).reshape(-1) for a, b in zip(fast_before, model.fast.parameters())]).norm()
    bound = 0.05 * 1e-6 * 4  # 4 'fast' steps of at most lr x clip each
    if clip:
        assert 0 < moved <= bound * 1.01
    else:
        assert moved > 1000 * bound  # the same run unclipped moves far more


class OnePlayer(GenerativeModel):
    def __init__(self, optim):
        super().__init__()
        self.net = nn.Linear(3, 1)
        self.optim_cfg = optim

    def losses(self, batch, player=None):
        return {"loss": (self.net(batch["x"]).squeeze(1) - batch["x"].sum(1)).pow(2).mean()}


def test_single_optimizer_with_warmup_cosine_schedule():
    cfg = OmegaConf.structured(OptimConfig(lr=0.1, scheduler="cosine", warmup_steps=4))
    model = OnePlayer(cfg)
    assert TrainingModule(model).automatic_optimization
    trainer = fit(model, steps=16)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr == pytest.approx(0.1 * lr_factor(cfg, 16, 16), abs=1e-9)


def test_lr_factor_shapes():
    cfg = OmegaConf.structured(OptimConfig(scheduler="cosine", warmup_steps=10, min_lr_ratio=0.1))
    assert lr_factor(cfg, 0, 110) == pytest.approx(0.1)  # warm-up starts low
    assert lr_factor(cfg, 9, 110) == pytest.approx(1.0)
    assert lr_factor(cfg, 60, 110) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(cfg, 110, 110) == pytest.approx(0.1)
    step = OmegaConf.structured(OptimConfig(scheduler="step", step_size=5, gamma=0.5))
    assert [lr_factor(step, s, 100) for s in (0, 4, 5, 10)] == [1.0, 1.0, 0.5, 0.25]


class Hooked(OnePlayer):
    """Records the lifecycle hooks the training adapter calls."""

    def __init__(self, optim):
        super().__init__(optim)
        self.steps, self.fits = [], []

    def on_fit_start(self, fit):
        self.fits.append((fit.global_step, fit.device, [b["x"].shape for b in fit.train_batches(2)]))

    def after_optimizer_step(self, player):
        self.steps.append(player)


def test_after_optimizer_step_once_per_real_step_with_accumulation():
    model = Hooked(OmegaConf.structured(OptimConfig(lr=0.01, accumulate=4)))
    trainer = fit(model, steps=3, accumulate_grad_batches=4)
    assert trainer.global_step == 3 and model.steps == [None, None, None]  # not 12
    assert model.fits == [(0, torch.device("cpu"), [torch.Size([8, 3])] * 2)]


class HookedPlayers(TwoPlayers):
    def __init__(self, optim):
        super().__init__(optim)
        self.steps = []

    def after_optimizer_step(self, player):
        self.steps.append(player)


def test_after_optimizer_step_per_player_step_in_manual_mode():
    model = HookedPlayers(OmegaConf.structured(OptimConfig(lr=0.01, accumulate=2)))
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(TrainingModule(model), train_dataloaders=loader(n=96))  # 12 batches
    # 'fast' steps on batches 1, 3, 5 ... (every 2nd of its batches); 'slow' plays on
    # batches 0, 3, 6, 9 and steps on every 2nd of those: batches 3 and 9
    assert model.steps == ["fast", "fast", "slow", "fast", "fast", "fast", "slow", "fast"]
    assert trainer.global_step == 8


class ExactRMSE(OnePlayer):
    """Per-batch RMSE from validation_losses; the split's exact RMSE from the sums."""

    def _sq(self, batch):
        return (self.net(batch["x"]).squeeze(1) - batch["x"].sum(1)).pow(2)

    def validation_losses(self, batch):
        sq = self._sq(batch)
        return {"loss": sq.mean(), "rmse": sq.mean().sqrt()}

    def validation_sums(self, batch):
        sq = self._sq(batch)
        return {"sq": sq.sum(), "n": torch.tensor(float(len(sq)))}

    def validation_metrics(self, sums):
        return {"rmse": math.sqrt(sums["sq"] / sums["n"]), "examples": sums["n"]}


def test_validation_sums_give_exact_split_metrics_that_replace_batch_averages():
    model = ExactRMSE(OmegaConf.structured(OptimConfig(lr=0.01)))
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(1)) * torch.tensor([1.0, 5.0, 9.0])
    val = DataLoader(TensorBatches(x), batch_size=8, collate_fn=identity_collate)  # 8, 8, 4
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(TrainingModule(model), train_dataloaders=loader(), val_dataloaders=val)
    logged = trainer.callback_metrics
    with torch.no_grad():
        sq = model._sq({"x": x}).double()
        batch_rmse = [sq[i:i + 8].mean().sqrt() for i in (0, 8, 16)]
    assert float(logged["val/rmse"]) == pytest.approx(float(sq.mean().sqrt()), rel=1e-5)
    weighted = float((8 * batch_rmse[0] + 8 * batch_rmse[1] + 4 * batch_rmse[2]) / 20)
    assert float(logged["val/rmse"]) != pytest.approx(weighted, rel=1e-4)  # exact, not averaged
    assert float(logged["val/loss"]) == pytest.approx(float(sq.mean()), rel=1e-5)  # weighted by size
    assert float(logged["val/examples"]) == 20


def test_lr_schedule_spans_the_whole_run_with_gradient_accumulation():
    """Lightning's estimated_stepping_batches already counts optimizer steps after
    accumulation; dividing by ``optim.accumulate`` again ended the schedule early."""
    cfg = OmegaConf.structured(OptimConfig(lr=0.1, scheduler="cosine", accumulate=4))
    seen = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, *args, **kwargs):
            seen.append((trainer.global_step, trainer.optimizers[0].param_groups[0]["lr"]))

    trainer = L.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, callbacks=[Record()],
                        enable_progress_bar=False, enable_model_summary=False, accumulate_grad_batches=4)
    trainer.fit(TrainingModule(OnePlayer(cfg)), train_dataloaders=loader())  # 8 batches an epoch
    assert trainer.global_step == 8  # 32 batches / 4
    by_step = dict(seen)  # the LR after each optimizer step
    for step in range(1, 8):
        assert by_step[step] == pytest.approx(0.1 * lr_factor(cfg, step, 8), abs=1e-9)
    assert by_step[4] == pytest.approx(0.05, abs=1e-9)  # half-way down the cosine at half the run
