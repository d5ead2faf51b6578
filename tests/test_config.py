"""Config loading: schemas <- file <- overrides, and errors that say what and where."""

import re

import pytest

from genloom.config import load_config
from genloom.errors import ConfigError


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "data: {name: digits, batch_size: 32}\n"
        "model: {name: vae, latent_dim: 8, encoder: {name: conv}}\n"
        "optim: {lr: 0.01}\n"
        "trainer: {max_epochs: 2}\n"
    )
    return path


def test_defaults_file_and_overrides_merge_in_order(config_file):
    cfg = load_config(config_file, ["optim.lr=0.5", "model.decoder.name=conv"])
    assert cfg.optim.lr == 0.5  # command line beats file
    assert cfg.data.batch_size == 32  # file beats defaults
    assert cfg.data.val_fraction == 0.1  # defaults fill the rest
    assert cfg.model.name == "vae:vae"  # resolved to the full name
    assert cfg.model.encoder.name == "vae:conv" and cfg.model.encoder.channels == 32
    assert cfg.model.decoder.name == "vae:conv"
    assert cfg.trainer.max_epochs == 2


def test_unknown_key_in_file_names_key_file_and_nearest(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: {name: vae, latnt_dim: 4}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert msg.startswith("model.latnt_dim: unknown key")
    assert "did you mean 'latent_dim'" in msg and str(path) in msg


def test_unknown_key_on_command_line_names_the_override(config_file):
    with pytest.raises(ConfigError, match=r"optim.lrr: unknown key.*'lr'.*command line 'optim.lrr=1'"):
        load_config(config_file, ["optim.lrr=1"])


def test_wrong_type_is_reported_with_key_and_source(config_file):
    with pytest.raises(ConfigError, match=r"data.batch_size: .*could not be converted.*command line"):
        load_config(config_file, ["data.batch_size=lots"])


def test_unknown_component_lists_choices(config_file):
    with pytest.raises(ConfigError, match=r"model.encoder.name: unknown encoder 'convv'.*'conv'"):
        load_config(config_file, ["model.encoder.name=convv"])


def test_unknown_top_level_section(config_file):
    with pytest.raises(ConfigError, match=r"^tranier: unknown key \(did you mean 'trainer'\?\)"):
        load_config(config_file, ["tranier.max_epochs=1"])


def test_unknown_trainer_argument(config_file):
    with pytest.raises(ConfigError, match=r"trainer.max_epoch: unknown key.*'max_epochs'"):
        load_config(config_file, ["trainer.max_epoch=1"])


def test_required_dataset_option(tmp_path):
    with pytest.raises(ConfigError, match=r"data.path: is required"):
        load_config(None, ["data.name=images", "model.name=vae"])


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="must look like key=value"):
        load_config(None, ["model.name"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_dataset_options_are_validated(config_file):
    cfg = load_config(config_file, ["data.name=toy2d", "data.shape=swiss_roll"])
    assert cfg.data.name == "genloom:toy2d" and cfg.data.shape == "swiss_roll"
    with pytest.raises(ConfigError, match=r"data.shape: unknown key"):
        load_config(config_file, ["data.shape=moons"])  # digits has no 'shape'


def test_interpolation_across_sections(config_file):
    cfg = load_config(config_file, ["seed=7", "sample.seed=${seed}"])
    assert cfg.sample.seed == 7


def test_optimizer_and_sampler_names_are_checked_up_front(config_file):
    with pytest.raises(ConfigError, match=r"optim.name: unknown optimizer 'adm' \(did you mean 'adam'"):
        load_config(config_file, ["optim.name=adm"])
    with pytest.raises(ConfigError, match=r"optim.scheduler: unknown schedule 'cosin'"):
        load_config(config_file, ["optim.scheduler=cosin"])
    with pytest.raises(ConfigError, match=r"sample.sampler: unknown sampler 'prio'"):
        load_config(config_file, ["sample.sampler=prio"])
    assert load_config(config_file, ["sample.sampler=prior"]).sample.sampler == "genloom:prior"


@pytest.mark.parametrize("override, message", [
    ("data.batch_size=0", "data.batch_size: must be at least 1, got 0"),
    ("data.val_fraction=1.5", "data.val_fraction: must be between 0.0 and 1.0, got 1.5"),
    ("data.val_fraction=nan", "data.val_fraction: must be between 0.0 and 1.0, got nan"),
])
def test_a_value_outside_its_fields_bounds_is_one_line_naming_them(override, message):
    from genloom.config import load_config

    with pytest.raises(ConfigError, match=re.escape(message) + r" \(from command line"):
        load_config("vae-digits", [override])
