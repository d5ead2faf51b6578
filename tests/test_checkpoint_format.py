"""Checkpoint formats: format 2 (keys under the training adapter's ``model.``) is
written; format 1 (the model's own keys, from before the adapter) still loads,
exports, initialises and resumes."""

import shutil

import pytest
import torch

from genloom import load_checkpoint, load_config, train
from genloom.checkpoints import FORMAT, export, read_weights
from genloom.errors import CheckpointError

BASE = ["model.name=vae", "data.name=digits", "trainer.enable_progress_bar=false",
        "sample.every_n_epochs=0", "checkpoint.every_n_epochs=0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 3-step run (format 2) and the same checkpoint rewritten as format 1."""
    root = tmp_path_factory.mktemp("formats")
    result = train(load_config(None, [*BASE, f"output_dir={root / 'new'}", "trainer.max_steps=3"]),
                   echo=None)
    ckpt = torch.load(result.checkpoint, weights_only=True)
    old = dict(ckpt)
    old["state_dict"] = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}
    old["genloom"] = {**ckpt["genloom"], "format": 1}
    (root / "old" / "checkpoints").mkdir(parents=True)
    torch.save(old, root / "old" / "checkpoints" / "last.ckpt")
    return root, ckpt, result.model.state_dict()


def test_new_checkpoints_are_format_2_with_the_adapter_prefix(runs):
    _, ckpt, state = runs
    assert FORMAT == 2 and ckpt["genloom"]["format"] == 2
    assert set(ckpt["state_dict"]) == {f"model.{k}" for k in state}


@pytest.mark.parametrize("run", ["new", "old"])
def test_both_formats_load_export_and_read_as_the_models_own_keys(runs, run, tmp_path):
    root, _, state = runs
    meta, weights = read_weights(root / run)
    assert meta["format"] == (2 if run == "new" else 1)
    assert weights.keys() == state.keys()
    model = load_checkpoint(root / run)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    out = export(root / run, tmp_path / "export")
    _, exported = read_weights(out)  # an export always holds the model's own keys
    assert exported.keys() == state.keys()
    assert all(torch.equal(exported[k], v) for k, v in state.items())


def test_format_1_initialises_and_resumes(runs, tmp_path):
    root, _, state = runs
    tuned = train(load_config(None, [*BASE, f"output_dir={tmp_path / 'tuned'}", "trainer.max_steps=1",
                                     "optim.lr=0", f"init_from={root / 'old'}"]), echo=None)
    assert all(torch.equal(tuned.model.state_dict()[k], v) for k, v in state.items())
    shutil.copytree(root / "old", tmp_path / "old")  # resuming rewrites last.ckpt
    resumed = train(load_config(None, [*BASE, f"output_dir={tmp_path / 'old'}", "trainer.max_steps=5"]),
                    resume=True, echo=None)
    assert resumed.trainer.global_step == 5  # went on from step 3
    again = torch.load(resumed.checkpoint, weights_only=True)
    assert again["genloom"]["format"] == 2 and all(k.startswith("model.") for k in again["state_dict"])


def test_a_newer_format_is_a_one_line_error(runs, tmp_path):
    _, ckpt, _ = runs
    newer = {**ckpt, "genloom": {**ckpt["genloom"], "format": FORMAT + 1}}
    torch.save(newer, tmp_path / "newer.ckpt")
    with pytest.raises(CheckpointError, match="newer than this genloom"):
        load_checkpoint(tmp_path / "newer.ckpt")


@pytest.mark.parametrize("edit", [
    lambda meta: meta.update(config=5),
    lambda meta: meta.pop("info"),
    lambda meta: meta["info"].update(shape=None),
    lambda meta: meta["info"].update(colour="blue"),
], ids=["config-not-an-object", "no-info", "shape-null", "unknown-info-field"])
def test_an_export_with_damaged_metadata_is_a_one_line_error(runs, tmp_path, edit):
    import json

    root, _, _ = runs
    out = export(root / "new", tmp_path / "export")
    meta = json.loads((out / "genloom.json").read_text())
    edit(meta)
    (out / "genloom.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="genloom export RUN OUT_DIR --force"):
        load_checkpoint(out)


def test_load_is_the_public_name_and_load_checkpoint_still_works(runs, recwarn):
    import warnings

    import genloom

    root = runs[0]
    assert "load" in genloom.__all__ and "load_checkpoint" not in genloom.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the old name warns nothing
        assert genloom.load_checkpoint is genloom.load
    model = genloom.load(root / "new")
    assert model.state_dict().keys() == runs[2].keys()


def test_a_folder_in_no_known_layout_names_the_known_layouts(tmp_path):
    import genloom

    (tmp_path / "weights.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as err:
        genloom.load(tmp_path)
    message = str(err.value)
    assert "no layout genloom knows" in message
    assert "a run (last.ckpt), an export (model.safetensors + genloom.json)" in message
    assert "\n" not in message
