"""Components registered in-process (a researcher's script), trained by the core loop."""

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

import genloom
import genloom.plugins
from genloom import DataInfo, GenerativeModel, Generator, load_config, register, train
from genloom.errors import PluginError


class Shift(Generator):
    def __init__(self, dims: int):
        super().__init__()
        self.latent_shape = self.data_shape = (dims,)
        self.shift = nn.Parameter(torch.full((dims,), 3.0))  # far from the data mean

    def forward(self, z, cond=None):
        return z + self.shift


class MeanMatcher(GenerativeModel):
    """x = z + shift, z ~ N(0, I): learns the data mean by maximum likelihood."""

    likelihood = "exact"
    has_latent_space = True

    @dataclass
    class Config:
        pass

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        self.gen = Shift(info.shape[0])

    def losses(self, batch, player=None):
        return {"loss": 0.5 * (batch["x"] - self.gen.shift).pow(2).sum(1).mean()}


def test_registered_model_trains_and_samples(tmp_path):
    assert register("model", "mean-matcher", MeanMatcher) == "local:mean-matcher"
    assert genloom.plugins.get_registry().resolve("model", "mean-matcher").plugin == "local"
    cfg = load_config(None, [
        "model.name=mean-matcher", "data.name=toy2d", "data.n=256", "optim.lr=0.1",
        f"output_dir={tmp_path}", "trainer.max_steps=300", "trainer.max_epochs=-1", "trainer.enable_progress_bar=false",
    ])
    result = train(cfg, echo=None)
    shift = result.model.gen.shift.detach()
    assert shift.abs().max() < 0.2  # moved from 3.0 to the standardised mean, ~0
    samples = result.model.sample(8, generator=torch.Generator().manual_seed(0))
    assert samples.data.shape == (8, 2) and samples.kind == "points"


def test_a_local_models_checkpoint_loads_where_it_is_registered_again_not_in_a_fresh_cli(tmp_path, cli):
    """What docs/writing-a-plugin.md says of genloom.register: the registration lives in
    its process. genloom.load works after registering the class again; a fresh
    ``genloom sample`` is a one-line error, since a checkpoint is not trusted to name a
    class path to import."""
    register("model", "mean-matcher", MeanMatcher)
    cfg = load_config(None, ["model.name=mean-matcher", "data.name=toy2d", "data.n=64", f"output_dir={tmp_path}",
                             "trainer.max_steps=2", "trainer.enable_progress_bar=false", "sample.n=0"])
    checkpoint = train(cfg, echo=None).checkpoint
    genloom.plugins.reset_plugins()  # a new process, as far as the registry knows
    register("model", "mean-matcher", MeanMatcher)
    assert genloom.load(checkpoint).sample(3).data.shape == (3, 2)
    result = cli("sample", str(tmp_path), "--n", "3", "--out", str(tmp_path / "s.npy"),
                 cwd=Path(__file__).resolve().parent)  # where this module is importable
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: model.name: unknown model 'local:mean-matcher'")
    assert not (tmp_path / "s.npy").exists()


def test_classes_defined_inside_functions_are_refused():
    class Inner(GenerativeModel):
        pass

    with pytest.raises(PluginError, match="top level"):
        register("model", "inner", Inner)


class FirstStageOnly(MeanMatcher):
    """A model that does not generate on its own (like a VQ-VAE before its prior)."""

    default_sampler = None


def test_a_model_without_a_default_sampler_trains_without_sample_files(tmp_path):
    register("model", "first-stage-only", FirstStageOnly)
    cfg = load_config(None, [
        "model.name=first-stage-only", "data.name=toy2d", "data.n=64", f"output_dir={tmp_path}",
        "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
    ])
    result = train(cfg, echo=None)
    assert result.samples is None and result.checkpoint.is_file()
    assert list(tmp_path.glob("samples/*")) == []
