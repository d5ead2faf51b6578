"""Training-step values reach the loggers, ``callback_metrics`` and the progress bar past
``self.log`` (a cost per step on small models): the rows, steps and values must be what
``self.log`` wrote, for one optimizer (with and without accumulation) and for a GAN."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import Tensor

from genloom import load_config
from genloom.lightning_module import TrainingModule
from genloom.training import train

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"
BASE = ["sample.n=0", "checkpoint.every_n_epochs=0", "trainer.limit_val_batches=0",
        "data.batch_size=128", "trainer.log_every_n_steps=3",
        "trainer.max_epochs=-1"]
VAE = [*BASE, "data.name=digits", "model.name=vae", "model.latent_dim=4",
       "model.encoder.hidden=16", "model.decoder.hidden=16"]
GAN = [*BASE, "model.latent_dim=4", "model.generator.channels=4",
       "model.discriminator.channels=4"]


def self_log_step(self, prefix: str, parts: dict[str, Tensor]) -> None:
    """The reference: what the module did before, Lightning's ``self.log``."""
    shown = self.model.progress_bar_keys
    for key, value in parts.items():
        self.log(f"{prefix}/{key}", value.detach() if isinstance(value, Tensor) else value,
                 on_step=True, on_epoch=False, prog_bar=key in shown)


def run(tmp_path: Path, name: str, config: Path | None, overrides: list[str]):
    cfg = load_config(config, [*overrides, f"output_dir={tmp_path / name}"])
    result = train(cfg, echo=None)
    rows = (result.run_dir / "metrics.csv").read_text()
    scalars = {k: round(float(v), 5) for k, v in result.trainer.callback_metrics.items()}
    bar = {k: round(float(v), 5) for k, v in result.trainer.progress_bar_metrics.items()}
    return rows, scalars, bar


@pytest.mark.parametrize("case", ["vae", "vae-accumulate", "gan"])
def test_step_values_are_logged_as_self_log_logged_them(tmp_path, monkeypatch, case):
    config, overrides = {
        "vae": (None, [*VAE, "trainer.max_steps=14"]),
        "vae-accumulate": (None, [*VAE, "trainer.max_steps=7", "optim.accumulate=2"]),
        "gan": (CONFIGS / "gan-digits.yaml", [*GAN, "trainer.max_steps=8"]),
    }[case]
    direct = run(tmp_path, "direct", config, overrides)
    monkeypatch.setattr(TrainingModule, "_log_step", self_log_step)
    monkeypatch.setattr(TrainingModule, "on_train_batch_end", lambda self, *a: None)
    reference = run(tmp_path, "reference", config, overrides)
    rows = direct[0].splitlines()
    assert len(rows) >= 3 and "train/" in rows[0]  # a header and at least two logged steps
    assert direct == reference
