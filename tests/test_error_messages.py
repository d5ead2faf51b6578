"""Error messages that name the real cause: each of these once pointed somewhere else."""

from dataclasses import dataclass

import pytest
import torch
from omegaconf import OmegaConf

from torch import nn

from genloom import DataInfo, GenerativeModel, Generator, load_config, register
from genloom.build import build_model
from genloom.errors import ComponentError, ConfigError

POINTS = DataInfo(kind="points", shape=(2,))
DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)


class NoOptions(GenerativeModel):
    """A model class written without a nested ``Config`` dataclass."""

    def losses(self, batch, player=None):
        return {"loss": batch["x"].sum() * 0}


class Shift(Generator):
    def __init__(self, dims: int):
        super().__init__()
        self.latent_shape = self.data_shape = (dims,)
        self.shift = nn.Parameter(torch.zeros(dims))

    def forward(self, z, cond=None):
        return z + self.shift


class Fixed(GenerativeModel):
    """A model with options but no ``conditional`` one; samples through the prior."""

    has_latent_space = True

    @dataclass
    class Config:
        scale: float = 1.0

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        self.gen = Shift(info.shape[0])

    def losses(self, batch, player=None):
        return {"loss": batch["x"].sum() * 0}


class BadDefault(Fixed):
    default_sampler = "no-such-sampler"


def test_an_option_for_a_model_without_config_names_the_missing_config():
    register("model", "no-options", NoOptions)
    with pytest.raises(ConfigError) as err:
        load_config(None, ["model.name=no-options", "model.hidden=3"], check_trainer=False)
    msg = str(err.value)
    assert msg.startswith("model.hidden: model 'local:no-options' takes no options")
    assert "declares no nested Config dataclass" in msg and "valid keys: name" not in msg
    assert msg.endswith("(from command line 'model.hidden=3')")
    load_config(None, ["model.name=no-options"], check_trainer=False)  # no options: fine


def test_cond_on_an_unconditional_model_suggests_the_option_only_where_it_exists():
    vae = build_model(load_config(None, ["model.name=vae"], check_trainer=False), DIGITS)
    with pytest.raises(ConfigError, match=r"not conditional; drop --cond or train with model\.conditional=true$"):
        vae.sample(2, cond=torch.zeros(2, dtype=torch.long))
    register("model", "fixed", Fixed)
    fixed = build_model(load_config(None, ["model.name=fixed"], check_trainer=False), POINTS)
    with pytest.raises(ConfigError) as err:
        fixed.sample(2, cond=torch.zeros(2, dtype=torch.long))
    assert str(err.value) == "model Fixed is not conditional; drop --cond"


def test_an_unresolvable_default_sampler_says_it_came_from_default_sampler():
    register("model", "bad-default", BadDefault)
    model = build_model(load_config(None, ["model.name=bad-default"], check_trainer=False), POINTS)
    with pytest.raises(ComponentError) as err:
        model.sample(2)
    msg = str(err.value)
    assert msg.startswith("model BadDefault's default_sampler 'no-such-sampler' does not resolve: ")
    assert "unknown sampler" in msg and "--sampler" in msg


def test_a_required_key_of_a_component_chosen_on_the_command_line_blames_that_choice():
    with pytest.raises(ConfigError) as err:
        load_config("examples/configs/vae-digits.yaml", ["data.name=images"], check_trainer=False)
    assert str(err.value).endswith("(from command line 'data.name=images')")


def test_a_bad_value_saved_in_a_checkpoint_config_says_so():
    saved = OmegaConf.create({"model": {"name": "vae", "latent_dim": "many"}})
    with pytest.raises(ConfigError) as err:
        load_config(base=saved, base_label="the config saved in 'runs/a'", check_trainer=False)
    assert str(err.value).startswith("model.latent_dim: ")
    assert str(err.value).endswith("(from the config saved in 'runs/a')")
