"""An imported Llama-shaped model through genloom's fine-tuning and int8: full and LoRA
fine-tuning (genloom align finetune/merge), int8 export and sampling, and the fine-tuned
model back to transformers."""

import sys
from pathlib import Path

import pytest
import torch

import transformers  # noqa: E402  (test-only: the dev and test extras install it)

from genloom import load_checkpoint  # noqa: E402
from genloom.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from hf_models import CORPUS, make_model  # noqa: E402


def cli(*args):
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"genloom {' '.join(map(str, args))} exited {exc.code}"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    make_model("llama", root / "llama")
    (root / "corpus.txt").write_text(CORPUS * 4)
    cli("import-hf", root / "llama", root / "imported")
    return root


def test_full_finetune_then_back_to_transformers(imported, tmp_path):
    root = imported
    cli("align", "finetune", root / "imported", f"data.path={root / 'corpus.txt'}", "data.batch_size=4",
        "--out", tmp_path / "ft", "--steps", 3, "--lr", 1e-2)
    before, after = load_checkpoint(root / "imported"), load_checkpoint(tmp_path / "ft")
    assert not torch.equal(before.net.blocks[0].attn.qkv.weight, after.net.blocks[0].attn.qkv.weight)
    cli("export-hf", tmp_path / "ft", tmp_path / "hf")
    ref = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, 320, (2, 16))
    with torch.no_grad():
        assert torch.allclose(after.net.step(x)[0], ref(x).logits, atol=1e-5, rtol=0)


def test_lora_finetune_and_merge(imported, tmp_path):
    root = imported
    cli("align", "finetune", root / "imported", f"data.path={root / 'corpus.txt'}", "data.batch_size=4",
        "--out", tmp_path / "lora", "--rank", 4, "--steps", 3, "--lr", 1e-2)
    assert (tmp_path / "lora" / "adapters.safetensors").is_file()
    cli("align", "merge", root / "imported", tmp_path / "lora" / "adapters.safetensors", tmp_path / "merged")
    base, merged = load_checkpoint(root / "imported"), load_checkpoint(tmp_path / "merged")
    assert not torch.equal(base.net.blocks[0].attn.qkv.weight, merged.net.blocks[0].attn.qkv.weight)
    assert torch.equal(base.net.tok_emb.weight, merged.net.tok_emb.weight)  # not adapted


def test_int8_export_samples(imported, tmp_path, capsys):
    root = imported
    cli("export", root / "imported", tmp_path / "int8", "--quantize", "int8")
    model = load_checkpoint(tmp_path / "int8")
    assert model.quantized_layers
    float_model = load_checkpoint(root / "imported")
    x = torch.randint(0, 320, (1, 16))
    with torch.no_grad():  # int8 weights: close to the float logits, not equal
        assert (model.net.step(x)[0] - float_model.net.step(x)[0]).abs().max() < 0.05
    cli("sample", tmp_path / "int8", "--sampler", "greedy", "--prompt", "the", "--max-new-tokens", 4,
        "--out", tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text().startswith("the")
