"""Foreign folder layouts claim a folder only when they recognise it (issue 24): a folder
no layout knows gets the core's one-line list of the layouts genloom reads, exit 2, even
when a plugin's layout is looking for a file of the same name (``config.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genloom.cli import main
from genloom.plugins import PluginHost, get_plugin_host, reset_plugins

LIST = ("is in no layout genloom knows; genloom reads a run (last.ckpt), "
        "an export (model.safetensors + genloom.json)")


@pytest.fixture
def only_transformer(monkeypatch: pytest.MonkeyPatch):
    """The plugins as a user with genloom-transformer but not genloom-diffusion has them."""
    previous = get_plugin_host()
    monkeypatch.setenv("GENLOOM_DISABLE_PLUGINS", "diffusion")
    reset_plugins(PluginHost().load())
    assert "diffusers" not in {c.name for c in get_plugin_host().registry.components("layout")}
    yield
    reset_plugins(previous)


def _sample(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(folder), "--out", str(folder / "samples.png")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (folder / "samples.png").exists()
    return err


def _folder(tmp_path: Path, name: str, files: dict[str, object]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, content in files.items():
        (folder / file).write_text(json.dumps(content) if not isinstance(content, str) else content)
    return folder


#: a lone autoencoder as diffusers' save_pretrained writes it (the weights' bytes do not matter here)
AUTOENCODER = {"config.json": {"_class_name": "AutoencoderKL", "_diffusers_version": "0.30.0",
                               "in_channels": 3, "latent_channels": 4},
               "diffusion_pytorch_model.safetensors": "not read"}


def test_a_diffusers_folder_is_not_claimed_by_the_hf_layout(tmp_path, capsys, only_transformer):
    err = _sample(_folder(tmp_path, "vae", AUTOENCODER), capsys)
    assert LIST in err and "model_type" not in err, err
    assert "hf (a Hugging Face GPT-2 or Llama folder" in err


@pytest.mark.parametrize("files", [
    {"config.json": {"name": "my app", "debug": True}},  # an application's settings
    {"config.json": "{not json"},
    {"config.json": [1, 2, 3]},
    {"model_index.json": {"pipeline": "mine"}, "config.json": {"layers": 2}},  # not written by diffusers
], ids=["settings", "not json", "not an object", "other model_index"])
def test_a_folder_with_an_unrelated_config_gets_the_list_of_layouts(tmp_path, capsys, files):
    err = _sample(_folder(tmp_path, "stuff", files), capsys)
    assert LIST in err, err
    assert "hf (" in err and "diffusers (" in err  # both plugins installed, neither claims it


def test_each_layout_still_claims_its_own_folders(tmp_path):
    from genloom_diffusion.hf_diffusers import DiffusersLayout
    from genloom_transformer.hf import HFLayout

    bert = _folder(tmp_path, "bert", {"config.json": {"model_type": "bert"}})
    assert HFLayout.recognizes(bert)  # a transformers folder: its load says which types are supported
    assert not DiffusersLayout.recognizes(bert)
    vae = _folder(tmp_path, "vae", AUTOENCODER)
    assert DiffusersLayout.recognizes(vae) and not HFLayout.recognizes(vae)
    pipe = _folder(tmp_path, "pipe", {"model_index.json": {"_class_name": "DDPMPipeline",
                                                           "_diffusers_version": "0.30.0"}})
    assert DiffusersLayout.recognizes(pipe) and not HFLayout.recognizes(pipe)
