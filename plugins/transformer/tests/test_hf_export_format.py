"""``genloom export CHECKPOINT OUT --format hf``: the core's export command writes through
the transformer plugin's ``hf`` layout, as ``genloom export-hf`` does."""

import sys
from pathlib import Path

import pytest
import torch
import transformers  # test-only: the dev and test extras install it

sys.path.insert(0, str(Path(__file__).parent))
from hf_models import make_model  # noqa: E402

from genloom import save_model  # noqa: E402
from genloom_transformer.hf import import_hf  # noqa: E402


def cli(*args: str) -> int:
    from genloom.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmt")
    make_model("llama", root / "llama")
    save_model(import_hf(root / "llama"), root / "run")
    return root


def test_export_format_hf_loads_in_transformers(exported, tmp_path, capsys):
    assert cli("export", str(exported / "run"), str(tmp_path / "hf"), "--format", "hf") == 0
    out = capsys.readouterr().out
    assert "(hf: config.json, model.safetensors, tokenizer.json)" in out, out
    ref = transformers.AutoModelForCausalLM.from_pretrained(exported / "llama").eval()
    again = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, 320, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ref(x).logits, again(x).logits)
    assert cli("export", str(exported / "run"), str(tmp_path / "hf"), "--format", "hf") == 2  # kept
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--format", "onnx"], "export format 'onnx' is unknown; formats: genloom, "),
    (["--format", "hf", "--quantize", "int8"], "--quantize writes genloom's format only"),
])
def test_bad_format_is_one_line_exit_2(exported, tmp_path, capsys, args, message):
    assert cli("export", str(exported / "run"), str(tmp_path / "out"), *args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()
