"""Pre-training the text encoder on captions and starting (frozen or not) from it:
``genloom_t2i.text_pretrain`` and ``model.text_checkpoint``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from genloom import DataInfo, build_model, load_config
from genloom.errors import ConfigError
from genloom.model import FitContext
from genloom_t2i.text_pretrain import load_text_checkpoint, main, pretrain_text_encoder, save_text_checkpoint
from genloom_text.encoder import CharEncoder

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10, class_names=[str(i) for i in range(10)])
SMALL = ["model.channels=8", "model.heads=2", "model.timesteps=50", "model.text_encoder.dim=16",
         "model.text_encoder.layers=1", "model.text_encoder.heads=2"]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def small_encoder(dim: int = 16) -> CharEncoder:
    return CharEncoder(CharEncoder.Config(dim=dim, layers=1, heads=2))


def captions(n: int = 64) -> torch.Tensor:
    texts = [f"a thick {WORDS[i % 10]}, at the top left" if i % 2 else f"the digit {WORDS[i % 10]}, small"
             for i in range(n)]
    out = torch.zeros(n, 40, dtype=torch.uint8)
    for i, t in enumerate(texts):
        out[i, : len(t)] = torch.tensor(list(t.encode("ascii")), dtype=torch.uint8)
    return out


def fit(step: int = 0) -> FitContext:
    return FitContext(global_step=step, device=torch.device("cpu"), loader=lambda: [])


def t2i(*overrides: str):
    return build_model(load_config(None, ["model.name=t2i", *SMALL, *overrides], check_trainer=False), DIGITS)


def test_pretraining_learns_to_restore_corrupted_characters():
    """Below the characters' own entropy: what a guess that ignores the context (the
    corrupted character says nothing) can reach at best."""
    torch.manual_seed(0)
    caps = captions()
    counts = torch.bincount(caps[caps != 0].long()).float()
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * p.log()).sum())
    losses = pretrain_text_encoder(small_encoder(), caps, steps=120, batch_size=32, lr=1e-2, mask_rate=0.3)
    last = sum(losses[-20:]) / 20
    print(f"denoising loss {losses[0]:.2f} -> {last:.2f}; context-free floor {unigram:.2f}")
    assert last < unigram - 0.5


def test_a_model_starts_from_the_checkpoint_and_freezing_keeps_it(tmp_path):
    enc = small_encoder()
    pretrain_text_encoder(enc, captions(), steps=3, batch_size=8)
    path = tmp_path / "chars.safetensors"
    save_text_checkpoint(enc, path)
    saved = {k: v.clone() for k, v in enc.state_dict().items()}
    resumed = t2i(f"model.text_checkpoint={path}", "model.freeze_text=true")
    resumed.on_fit_start(fit(step=5))  # a resumed run keeps its own weights
    assert not torch.equal(resumed.text_encoder.embed.weight, saved["embed.weight"])
    model = t2i(f"model.text_checkpoint={path}", "model.freeze_text=true")
    model.on_fit_start(fit())
    for k, v in model.text_encoder.state_dict().items():
        assert torch.equal(v, saved[k]), k
    for k, v in model.ema.module.text.state_dict().items():  # the EMA copy samples: it too
        assert torch.equal(v, saved[k]), k
    unet_before = model.denoiser.out[-1].weight.clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    batch = {"x": torch.rand(4, 1, 8, 8) * 2 - 1, "y": torch.tensor([1, 2, 3, 4])}
    model.losses(batch)["loss"].backward()
    opt.step()
    for k, v in model.text_encoder.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert not torch.equal(model.denoiser.out[-1].weight, unet_before)
    # without the checkpoint the encoder is a fresh random one
    fresh = t2i("model.freeze_text=true").text_encoder.state_dict()
    assert not torch.equal(fresh["embed.weight"], saved["embed.weight"])


def test_bad_text_checkpoints_are_one_line_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no file"):
        t2i(f"model.text_checkpoint={tmp_path / 'missing.safetensors'}").on_fit_start(fit())
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors at all")
    with pytest.raises(ConfigError, match="not a safetensors file"):
        t2i(f"model.text_checkpoint={junk}").on_fit_start(fit())
    wide = tmp_path / "wide.safetensors"
    save_text_checkpoint(small_encoder(dim=32), wide)
    with pytest.raises(ConfigError, match="another shape") as err:
        t2i(f"model.text_checkpoint={wide}").on_fit_start(fit())
    assert "\n" not in str(err.value)
    enc = small_encoder()
    with pytest.raises(ConfigError, match="another shape"):
        load_text_checkpoint(enc, wide)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "genloom_t2i.text_pretrain", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def test_the_command_has_help_and_rejects_bad_arguments_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "model.text_checkpoint" in capsys.readouterr().out
    for args, message in ((["--out", str(tmp_path / "a.safetensors"), "--steps", "0"], "--steps"),
                          (["--out", str(tmp_path / "no" / "a.safetensors")], "no folder")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow  # builds the captioned digits (~20 s)
def test_the_command_writes_an_encoder_a_model_loads(tmp_path):
    out = tmp_path / "chars.safetensors"
    done = run_cli("--out", str(out), "--steps", "2", "--dim", "16", "--layers", "1", "--heads", "2", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"last_loss"' in done.stdout
    model = t2i(f"model.text_checkpoint={out}")
    model.on_fit_start(fit())
    enc = small_encoder()
    load_text_checkpoint(enc, out)
    assert torch.equal(model.text_encoder.embed.weight, enc.embed.weight)


def phrased(n: int = 40) -> torch.Tensor:
    """``(n, 2, 40)``: two phrasings of each of n "images", the digit as a word, then as a numeral."""
    out = torch.zeros(n, 2, 40, dtype=torch.uint8)
    sizes = ["small", "large", "mid-sized", "thin"]
    for i in range(n):
        for j, text in enumerate((f"a {sizes[i % 4]} {WORDS[i % 10]}", f"the digit {i % 10}, {sizes[i % 4]}")):
            out[i, j, : len(text)] = torch.tensor(list(text.encode("ascii")), dtype=torch.uint8)
    return out


def retrieval(enc: CharEncoder, caps: torch.Tensor) -> float:
    """How often the second phrasing's pooled vector is nearest the first's of the same image."""
    from genloom_t2i.unet import pooled_states
    with torch.no_grad():
        z = [torch.nn.functional.normalize(pooled_states(*enc(enc.tokenize_bytes(caps[:, j]))), dim=1)
             for j in (0, 1)]
    return float(((z[0] @ z[1].T).argmax(1) == torch.arange(len(caps))).float().mean())


def test_contrastive_pretraining_matches_two_phrasings_of_one_image():
    torch.manual_seed(0)
    caps, enc = phrased(), small_encoder()
    before = retrieval(enc, caps)
    losses = pretrain_text_encoder(enc, caps, steps=80, batch_size=20, lr=1e-2, objective="contrastive")
    after = retrieval(enc, caps)
    print(f"contrastive loss {losses[0]:.2f} -> {losses[-1]:.2f}; retrieval {before:.2f} -> {after:.2f}")
    assert after > before + 0.2 and after > 0.25  # 40 images with 20 distinct pairs: chance is 1/40
    with pytest.raises(ConfigError, match="two phrasings"):
        pretrain_text_encoder(enc, caps[:, 0], steps=1, objective="contrastive")
    with pytest.raises(ConfigError, match="unknown objective"):
        pretrain_text_encoder(enc, caps, steps=1, objective="clip")
