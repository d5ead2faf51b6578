"""int8 dynamic quantisation through ``genloom export --quantize int8``."""

import math

import pytest
import torch

from genloom import load_checkpoint, load_config, save_model
from genloom.build import build_dataset, build_model
from genloom.checkpoints import export, read_weights
from genloom.cli import main
from genloom.errors import CheckpointError

TOLERANCE_BPC = 0.02  # the stated tolerance: int8 held-out bpc within 0.02 of fp32


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small char transformer trained for 150 steps on the pydoc text (plain loop)."""
    torch.manual_seed(0)
    cfg = load_config(None, ["data.name=text", "data.block_size=32", "model.name=transformer",
                             "model.width=64", "model.layers=2", "model.heads=4"], check_trainer=False)
    data = build_dataset(cfg)
    splits = data.splits(0.1, 0.1, 0)
    model = build_model(cfg, data.info).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model.losses(splits["train"].__getitems__(torch.randint(len(splits["train"]), (32,)).tolist()))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = tmp_path_factory.mktemp("q")
    return save_model(model.eval(), out / "fp32"), splits["test"], out


def bpc(model, windows, n=200):
    x = windows.__getitems__(list(range(min(n, len(windows)))))["x"]
    with torch.no_grad():
        return model.token_nats(x).mean().item() / math.log(2)


def test_int8_export_is_smaller_runs_int8_and_keeps_bpc_within_tolerance(trained):
    fp32_dir, test, tmp = trained
    q_dir = export(fp32_dir, tmp / "int8", quantize="int8")
    fp32, int8 = load_checkpoint(fp32_dir), load_checkpoint(q_dir)
    quantized = [n for n, m in int8.named_modules() if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]
    assert len(quantized) == 2 * 4  # qkv, proj and the two MLP layers of both blocks
    assert int8.net.blocks[0].attn.qkv.weight().dtype == torch.qint8
    assert int8.net.head.weight is int8.net.tok_emb.weight  # the tied output layer stays float
    assert (q_dir / "model.safetensors").stat().st_size < 0.6 * (fp32_dir / "model.safetensors").stat().st_size
    a, b = bpc(fp32, test), bpc(int8, test)
    assert a < 4.5  # trained: well below the uniform log2(vocab)
    assert abs(a - b) < TOLERANCE_BPC
    x = test.__getitems__([0, 1])["x"]
    with torch.no_grad():
        diff = (fp32.net.step(x[:, :-1])[0] - int8.net.step(x[:, :-1])[0]).abs().max().item()
    assert 0 < diff < 0.5  # really quantised, and close
    # the int8 weights load exactly as stored; read_weights gives float weights
    meta, state = read_weights(q_dir)
    assert meta["quantized"]["scheme"] == "int8" and state["net.blocks.0.attn.qkv.weight"].dtype == torch.float32
    torch.testing.assert_close(int8.net.blocks[0].attn.qkv.weight().dequantize(),
                               state["net.blocks.0.attn.qkv.weight"], atol=0, rtol=0)


def test_the_quantised_export_samples_repeatably_from_the_command_line(trained, capsys):
    fp32_dir, _, tmp = trained
    main(["export", str(fp32_dir), str(tmp / "cli-int8"), "--quantize", "int8"])
    assert "(int8," in capsys.readouterr().out
    outs = []
    for _ in range(2):
        main(["sample", str(tmp / "cli-int8"), "--prompt", "def ", "--max-new-tokens", "20", "--seed", "3"])
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].startswith("def ") and len(outs[0]) > 20
    with pytest.raises(CheckpointError, match="already quantised"):
        export(tmp / "cli-int8", tmp / "twice", quantize="int8")
    with pytest.raises(CheckpointError, match="--force"):
        export(fp32_dir, tmp / "cli-int8", quantize="int8")


def test_without_genloom_compress_quantising_is_a_one_line_error(monkeypatch):
    """The core reaches int8 only through the registered quantizer: with none, it says
    what to install (and imports nothing of genloom_compress)."""
    import genloom.plugins
    from genloom.checkpoints import _quantizer
    from genloom.errors import ComponentError
    from genloom.registry import Registry

    assert type(_quantizer("int8")).__module__ == "genloom_compress.quantize"
    monkeypatch.setattr(genloom.plugins, "get_registry", lambda: Registry())
    with pytest.raises(ComponentError, match="pip install genloom-compress") as err:
        _quantizer("int8")
    assert "\n" not in str(err.value) and str(err.value).count("pip install") == 1
    with pytest.raises(ComponentError, match="unknown quantizer 'int4'") as other:
        _quantizer("int4")  # no first-party scheme: genloom-compress would not provide it
    assert "genloom-compress" not in str(other.value)


def test_the_old_core_paths_still_work_and_warn():
    import importlib
    import sys

    for old, new in (("genloom.lora", "genloom_compress.lora"), ("genloom.quantize", "genloom_compress.quantize")):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=new):
            assert importlib.import_module(old) is importlib.import_module(new)
