"""Hugging Face GPT-2 and Llama folders in and out: logits, tokenizer and greedy generation
against ``transformers`` on tiny random-weight models saved locally (nothing downloads)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import transformers  # noqa: E402  (test-only: the dev and test extras install it)

from safetensors.torch import load_file  # noqa: E402

from genloom import load_checkpoint  # noqa: E402
from genloom_text.hf_tokenizer import HFTokenizer  # noqa: E402
from genloom_transformer.hf import export_hf, import_hf  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from hf_models import make_model  # noqa: E402

SHAPES = {  # kind, make_model options
    "gpt2": ("gpt2", {}),
    "llama-gqa-untied": ("llama", {}),
    "llama-tied-sharded": ("llama", {"tied": True, "kv_heads": 4, "shards": True}),
}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {name: make_model(kind, root / name, **kw) for name, (kind, kw) in SHAPES.items()}


def reference(folder):
    return transformers.AutoModelForCausalLM.from_pretrained(folder).eval()


@pytest.mark.parametrize("name", list(SHAPES))
def test_logits_equal_transformers(folders, name):
    model, ref = import_hf(folders[name]), reference(folders[name])
    x = torch.randint(0, 320, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, cache = model.net.step(x[:, :30])
        more, _ = model.net.step(x[:, 30:], cache)  # and through the KV cache
        theirs = ref(x).logits
    assert torch.allclose(ours, theirs[:, :30], atol=1e-5, rtol=0)
    assert torch.allclose(more, theirs[:, 30:], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["gpt2", "llama-gqa-untied"])
def test_greedy_generation_equals_transformers(folders, name):
    from genloom_text.decoding.samplers import GreedySampler

    model, ref = import_hf(folders[name]), reference(folders[name])
    prompt = "the quick brown"
    ids = HFTokenizer.from_file(folders[name] / "tokenizer.json").encode(prompt)
    ours = GreedySampler().sample(model, 1, prompt=prompt, max_new_tokens=20).data[0].tolist()
    with torch.no_grad():
        theirs = ref.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=20,
                              min_new_tokens=20, attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    assert ours == theirs[0].tolist()
    assert len(ours) == len(ids) + 20


def test_tokenizer_matches_transformers_fast_tokenizer(folders):
    file = folders["llama-gqa-untied"] / "tokenizer.json"
    ours = HFTokenizer.from_file(file)
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_file=str(file))
    text = "the lazy dog predicts tokens, naïvely"
    assert ours.encode(text) == theirs(text)["input_ids"]
    assert ours.encode(text)[0] == theirs.convert_tokens_to_ids("<s>")  # the BOS the file adds
    assert ours.decode(ours.encode(text)) == theirs.decode(theirs(text)["input_ids"], skip_special_tokens=True)
    again = HFTokenizer.from_state(json.loads(json.dumps(ours.state())))  # as a checkpoint keeps it
    assert again.encode(text) == ours.encode(text)


@pytest.mark.parametrize("name", list(SHAPES))
def test_round_trip_gives_identical_tensors(folders, name, tmp_path):
    out = tmp_path / "back"
    export_hf(import_hf(folders[name]), out)
    original = {}
    for f in sorted(folders[name].glob("*.safetensors")):
        original.update(load_file(f))
    back = load_file(out / "model.safetensors")
    assert sorted(back) == sorted(original)
    for k in original:
        assert torch.equal(back[k], original[k]), k
    assert (out / "tokenizer.json").read_text() == HFTokenizer.from_file(
        folders[name] / "tokenizer.json").to_json()
    ref, again = reference(folders[name]), reference(out)
    x = torch.randint(0, 320, (2, 16))
    with torch.no_grad():
        assert torch.equal(ref(x).logits, again(x).logits)


def test_cli_import_sample_export(folders, tmp_path):
    out, hf = tmp_path / "imported", tmp_path / "hf"
    r = run_cli("import-hf", str(folders["llama-gqa-untied"]), str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "genloom.json").is_file() and "imported" in r.stdout
    r = run_cli("sample", str(out), "--sampler", "greedy", "--prompt", "the quick", "--max-new-tokens", "8",
                "--out", str(tmp_path / "s.txt"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.txt").read_text().startswith("the quick")
    r = run_cli("export-hf", str(out), str(hf))
    assert r.returncode == 0, r.stderr
    ref, again = reference(folders["llama-gqa-untied"]), reference(hf)
    x = torch.randint(0, 320, (2, 16))
    with torch.no_grad():
        assert torch.equal(ref(x).logits, again(x).logits)
    r = run_cli("export-hf", str(out), str(hf))  # an existing model is kept
    assert r.returncode == 2 and "--force" in r.stderr


def test_genloom_trained_transformer_exports_as_gpt2(tmp_path):
    """genloom's default transformer (learned positions, exact gelu, biases, tied) is GPT-2's
    shape: transformers loads it with the same logits."""
    from genloom import DataInfo, build_model, load_config, save_model
    from genloom_text.tokenizers import ByteTokenizer

    info = DataInfo(kind="tokens", shape=(33,), vocab_size=256, tokenizer=ByteTokenizer().state())
    cfg = load_config(None, ["model.name=transformer", "model.width=32", "model.layers=2", "model.heads=4"],
                      check_trainer=False)
    torch.manual_seed(0)
    model = build_model(cfg, info).eval()
    save_model(model, tmp_path / "run")
    files = export_hf(load_checkpoint(tmp_path / "run"), tmp_path / "hf")
    assert files == ["config.json", "model.safetensors"]  # a byte tokenizer has no tokenizer.json
    x = torch.randint(0, 256, (2, 32))
    with torch.no_grad():
        assert torch.allclose(model.net.step(x)[0], reference(tmp_path / "hf")(x).logits, atol=1e-5, rtol=0)


def test_a_shape_neither_gpt2_nor_llama_is_refused(tmp_path):
    from genloom import DataInfo, build_model, load_config, save_model
    from genloom_text.tokenizers import ByteTokenizer

    info = DataInfo(kind="tokens", shape=(17,), vocab_size=256, tokenizer=ByteTokenizer().state())
    cfg = load_config(None, ["model.name=transformer", "model.width=32", "model.layers=1", "model.heads=4",
                             "model.positions=rotary"], check_trainer=False)
    save_model(build_model(cfg, info), tmp_path / "run")
    r = run_cli("export-hf", str(tmp_path / "run"), str(tmp_path / "hf"))
    assert r.returncode == 2 and "neither GPT-2" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize("option", ["model.qk_norm=true", "model.logit_softcap=10"])
def test_a_speed_run_option_hugging_face_lacks_is_refused(tmp_path, option):
    from genloom import DataInfo, build_model, load_config, save_model
    from genloom_text.tokenizers import ByteTokenizer

    info = DataInfo(kind="tokens", shape=(17,), vocab_size=256, tokenizer=ByteTokenizer().state())
    cfg = load_config(None, ["model.name=transformer", "model.width=32", "model.layers=1", "model.heads=4",
                             option], check_trainer=False)
    save_model(build_model(cfg, info), tmp_path / "run")
    r = run_cli("export", str(tmp_path / "run"), str(tmp_path / "hf"), "--format", "hf")
    assert r.returncode == 2 and option.split("=")[0] in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "hf").exists()


def test_a_hugging_face_folder_loads_directly(folders, tmp_path, capsys):
    """The ``layout`` component ``hf``: load_checkpoint, genloom sample and the align
    commands read the folder itself, as import-hf does."""
    from genloom.cli import main

    folder = folders["gpt2"]
    model = load_checkpoint(folder)
    x = torch.randint(0, 320, (2, 16))
    with torch.no_grad():
        assert torch.allclose(model.net.step(x)[0], reference(folder)(x).logits, atol=1e-5, rtol=0)
    main(["sample", str(folder), "--sampler", "greedy", "--prompt", "the", "--max-new-tokens", "4",
          "--out", str(tmp_path / "s.txt")])
    assert (tmp_path / "s.txt").read_text().startswith("the")
