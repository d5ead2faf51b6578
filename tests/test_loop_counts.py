"""What the training loop counts: ``trainer.max_steps`` means batches for every model, the
schedule's horizon is fixed when a run starts and kept on ``--resume``, accumulation and
clipping have one source (``optim``), and config values out of range are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genloom import load_config
from genloom.errors import ConfigError
from genloom.training import train

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"
QUIET = ["trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0",
         "trainer.limit_val_batches=0", "trainer.logger=false"]
GAN = ["model.latent_dim=4", "model.generator.channels=4", "model.discriminator.channels=4",
       "data.batch_size=32", "optim.scheduler=cosine", *QUIET]


def batches_of(result) -> int:
    return result.trainer.fit_loop.epoch_loop.batch_progress.total.completed


def horizons(trainer) -> list[int]:
    return [c.scheduler.lr_lambdas[0].total for c in trainer.lr_scheduler_configs]


def test_max_steps_counts_batches_for_a_gan_and_its_schedule_spans_them(tmp_path):
    cfg = load_config(CONFIGS / "gan-digits.yaml", [
        *GAN, "trainer.max_steps=6", "trainer.max_epochs=-1", f"output_dir={tmp_path / 'run'}"])
    result = train(cfg, echo=None)
    assert batches_of(result) == 6  # it was 3: Lightning counted both players' steps
    assert result.trainer.global_step == 12  # Lightning's own count: every player's steps
    assert horizons(result.trainer) == [6, 6]  # each player steps on each of the 6 batches


def test_max_steps_counts_batches_with_step_ratios_and_accumulation(tmp_path):
    cfg = load_config(CONFIGS / "gan-digits.yaml", [
        *GAN, "model.d_steps=2", "optim.accumulate=2", "trainer.max_steps=8",
        "trainer.max_epochs=-1", f"output_dir={tmp_path / 'run'}"])
    result = train(cfg, echo=None)
    assert batches_of(result) == 8
    assert sorted(horizons(result.trainer)) == [2, 4]  # generator: 8 / 2 / 2; discriminator: 8 / 2


def lr_now(trainer) -> float:
    return trainer.optimizers[0].param_groups[0]["lr"]


def test_a_resume_with_more_epochs_keeps_the_schedule_of_the_run(tmp_path, monkeypatch):
    """The README's resume raises trainer.max_epochs: the cosine schedule must not be
    stretched over the new length (it took the LR from 0 back to half its peak)."""
    from genloom.lightning_module import TrainingModule

    run = tmp_path / "run"
    base = [*QUIET, "data.n=256", "data.batch_size=64", "optim.scheduler=cosine",
            "optim.min_lr_ratio=0.1", "optim.lr=0.01", f"output_dir={run}"]
    first = train(load_config(CONFIGS / "vae-toy2d.yaml", [*base, "trainer.max_epochs=2"]), echo=None)
    before = lr_now(first.trainer)
    assert before == pytest.approx(0.001)  # the end of the cosine: min_lr_ratio * lr
    seen = []
    original = TrainingModule.on_train_batch_end

    def record(self, *args, **kwargs):
        seen.append(lr_now(self.trainer))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TrainingModule, "on_train_batch_end", record, raising=False)
    again = train(load_config(CONFIGS / "vae-toy2d.yaml", [*base, "trainer.max_epochs=4"]),
                  resume=True, echo=None)
    assert seen and seen[0] == pytest.approx(before)  # was 0.0055: half-way up again
    assert horizons(again.trainer) == horizons(first.trainer)


def test_the_divergence_advice_is_accepted_on_resume(tmp_path):
    from genloom.training import check_resume

    run = tmp_path / "run"
    train(load_config(CONFIGS / "vae-toy2d.yaml", [*QUIET, "data.n=128", "trainer.max_epochs=1",
                                                   f"output_dir={run}"]), echo=None)
    last = run / "checkpoints" / "last.ckpt"
    check_resume(load_config(CONFIGS / "vae-toy2d.yaml", [
        "optim.nonfinite=skip", "optim.gradient_clip=1.0"]), last)  # what DivergenceError advises
    with pytest.raises(ConfigError, match="optim.lr cannot change"):
        check_resume(load_config(CONFIGS / "vae-toy2d.yaml", ["optim.lr=0.5"]), last)


@pytest.mark.parametrize("key,instead", [("trainer.accumulate_grad_batches=2", "optim.accumulate"),
                                         ("trainer.gradient_clip_val=1.0", "optim.gradient_clip")])
def test_trainer_stepping_keys_point_to_optim(key, instead, cli):
    result = cli("train", str(CONFIGS / "gan-digits.yaml"), key)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and instead in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("override,key", [
    ("data.batch_size=0", "data.batch_size"),
    ("data.val_fraction=nan", "data.val_fraction"),
    ("data.val_fraction=1.5", "data.val_fraction"),
    ("data.val_fraction=-0.1", "data.val_fraction"),
    ("data.val_fraction=0.95", "data.val_fraction"),  # with test_fraction 0.1: nothing trains
    ("optim.accumulate=0", "optim.accumulate"),
    ("optim.gamma=-0.5", "optim.gamma"),
    ("model.latent_dim=0", "model.latent_dim"),
])
def test_values_out_of_range_are_one_config_error(override, key):
    overrides = [override, "optim.scheduler=exponential"] if "gamma" in override else [override]
    with pytest.raises(ConfigError) as err:
        load_config(CONFIGS / "vae-digits.yaml", overrides)
    assert str(err.value).startswith(key) and "\n" not in str(err.value)


def test_sample_seed_out_of_range_is_one_line(tmp_path, cli):
    result = cli("sample", str(tmp_path / "missing"), "--seed", str(2**64))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --seed must be between 0 and {2**64 - 1}, got {2**64}"]


def test_one_optimizer_table():
    from genloom import config, optim

    assert not hasattr(optim, "OPTIMIZERS") or optim.OPTIMIZERS is config.OPTIMIZERS
    assert {name: getattr(torch.optim, cls).__name__ for name, cls in config.OPTIMIZERS.items()} == {
        "adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def test_every_process_gets_a_training_batch_when_its_shard_is_smaller_than_a_batch():
    from types import SimpleNamespace

    from genloom.build import build_dataset
    from genloom.data.datamodule import GenDataModule

    cfg = load_config(None, ["data.name=toy2d", "data.n=100", "data.batch_size=64", "model.name=vae"])
    module = GenDataModule(build_dataset(cfg), cfg.data)
    module.trainer = SimpleNamespace(world_size=2)  # 80 training points: 40 per process
    loader = module.train_dataloader()
    assert not loader.drop_last  # one batch of 40 on each process, not none
    module.trainer = SimpleNamespace(world_size=1)
    assert module.train_dataloader().drop_last  # one process: 80 > 64, the partial batch goes
