"""Loggers, callbacks, profilers and optimizers chosen in config by name or class path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from genloom import ConfigError, load_config, train

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
TINY = ["data.n=128", "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "sample.n=0",
        "checkpoint.every_n_epochs=0"]


def test_objects_from_class_paths_are_built(tmp_path):
    cfg = load_config(CONFIG, [*TINY, f"output_dir={tmp_path / 'run'}",
        f"trainer.logger={{class_path: lightning.pytorch.loggers.CSVLogger, "
        f"init_args: {{save_dir: '{tmp_path}', name: extra, version: ''}}}}",
        "trainer.callbacks=[{class_path: lightning.pytorch.callbacks.LearningRateMonitor}]",
        "optim.name=torch.optim.NAdam", "optim.init_args={momentum_decay: 0.005}"])
    result = train(cfg, echo=None)
    from lightning.pytorch.callbacks import LearningRateMonitor

    assert any(isinstance(c, LearningRateMonitor) for c in result.trainer.callbacks)
    optimizer = result.trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.NAdam) and optimizer.defaults["momentum_decay"] == 0.005
    assert (tmp_path / "extra" / "metrics.csv").is_file()  # the extra logger
    assert (tmp_path / "run" / "metrics.csv").is_file()  # and the run's own history


@pytest.mark.parametrize("override, message", [
    ("trainer.logger=-1", "trainer.logger: -1 is not a logger"),
    ("trainer.logger=wandbb", "unknown logger 'wandbb' (did you mean 'wandb'?)"),
    ("trainer.callbacks=[{class_path: lightning.pytorch.loggers.CSVLogger}]", "is not a callback"),
    ("trainer.callbacks=[{class_path: collections.OrderedDict}]", "GENLOOM_ALLOW_CLASS_PATHS=collections"),
    ("trainer.callbacks=[{class_path: lightning.pytorch.callbacks.NoSuchThing}]", "cannot import"),
    ("trainer.profiler=fancy", "unknown profiler 'fancy'"),
    ("optim.name=torch.optim.lr_scheduler.StepLR", "is not a torch.optim.Optimizer"),
    ("optim.name=torch.nn.Linear", "GENLOOM_ALLOW_CLASS_PATHS=torch"),
])
def test_bad_objects_are_refused_when_the_config_loads(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(CONFIG, [override])


def test_a_logger_whose_package_is_missing_is_an_install_hint_and_leaves_nothing(tmp_path, cli):
    run = tmp_path / "run"
    result = cli("train", CONFIG, "trainer.logger=wandb", f"output_dir={run}", *TINY)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: trainer.logger: the wandb logger needs 'wandb': pip install wandb"
    ]
    assert not run.exists()
