"""Bad Hugging Face folders: each is one line on stderr, exit 2, nothing written."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import transformers  # noqa: E402,F401  (test-only: make the failure loud where it is missing)

sys.path.insert(0, str(Path(__file__).parent))
from hf_models import make_model  # noqa: E402


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return make_model("llama", tmp_path_factory.mktemp("hf") / "llama")


def spoil(good, tmp_path, how):
    folder = tmp_path / "bad"
    shutil.copytree(good, folder)
    cfg = json.loads((folder / "config.json").read_text())
    if how == "no config":
        (folder / "config.json").unlink()
    elif how == "no weights":
        (folder / "model.safetensors").unlink()
    elif how == "no tokenizer":
        (folder / "tokenizer.json").unlink()
    elif how == "model_type":
        (folder / "config.json").write_text(json.dumps({**cfg, "model_type": "bert"}))
    elif how == "oversized":
        (folder / "config.json").write_text(json.dumps({**cfg, "vocab_size": 10**12}))
    elif how == "shapes":  # a config wider than its weights
        (folder / "config.json").write_text(json.dumps({**cfg, "intermediate_size": 80}))
    elif how == "missing tensor":
        from safetensors.torch import load_file, save_file

        tensors = load_file(folder / "model.safetensors")
        del tensors["model.layers.1.mlp.up_proj.weight"]
        save_file(tensors, folder / "model.safetensors")
    elif how == "shard outside":
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"weight_map": {"model.embed_tokens.weight": "../elsewhere.safetensors"}}))
    elif how == "not json":
        (folder / "config.json").write_text("{model_type: llama")
    return folder


CASES = {
    "no config": "has no config.json",
    "no weights": "has no model.safetensors",
    "no tokenizer": "has no tokenizer.json",
    "model_type": "model_type 'bert' is not supported; genloom imports gpt2, llama",
    "oversized": "vocab_size=1,000,000,000,000 is over genloom's bound",
    "shapes": "the weights do not fit config.json: 'blocks.0.mlp.0.weight'",
    "missing tensor": "lack 1 tensor(s)",
    "shard outside": "shards must be .safetensors files in the folder",
    "not json": "is not valid JSON",
}


@pytest.mark.parametrize("how", list(CASES))
def test_bad_folder_is_one_line_exit_2(good, tmp_path, how, capsys):
    """Through the CLI's own entry point, in this process (a subprocess each costs seconds)."""
    from genloom.cli import main

    folder = spoil(good, tmp_path, how)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["import-hf", str(folder), str(out)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert CASES[how] in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_as_a_program_too(good, tmp_path):
    folder = spoil(good, tmp_path, "model_type")
    r = subprocess.run([sys.executable, "-m", "genloom", "import-hf", str(folder), str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_a_folder_in_no_known_layout_names_the_layouts(tmp_path, capsys):
    from genloom.cli import main

    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "weights.bin").write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(tmp_path / "stuff")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "genloom reads a run (last.ckpt), an export (model.safetensors + genloom.json), " in err
    assert ", hf (a Hugging Face GPT-2 or Llama folder" in err  # other plugins' layouts may come between


def test_load_checkpoint_of_an_unsupported_hf_folder_says_which_are(good, tmp_path):
    from genloom import CheckpointError, load_checkpoint

    with pytest.raises(CheckpointError, match="model_type 'bert' is not supported; genloom imports gpt2, llama"):
        load_checkpoint(spoil(good, tmp_path, "model_type"))
