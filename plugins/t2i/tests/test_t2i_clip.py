"""The CLIP-style scorer: the shipped weights tell real pairs from shuffled ones, the
training script is deterministic, loading checks the file, and ``clip_score`` runs on a
t2i model (in-process and through ``genloom evaluate``)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch

from genloom.errors import ConfigError
from genloom_t2i.clip import SHIPPED, Clip, clip_metadata, load_clip, retrieval_accuracy, save_clip
from genloom_t2i.clip_train import main, pick_phrasings, score_split, train_clip

TINY = {"width": 4, "embed": 8, "text_dim": 8, "text_layers": 0, "text_heads": 1}
TINY_ARGS = ["--width", "4", "--embed", "8", "--text-dim", "8", "--text-layers", "0", "--text-heads", "1"]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven"]


def pairs(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` distinct random images, each with two phrasings naming its index."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    caps = torch.zeros(n, 2, 24, dtype=torch.uint8)
    for i in range(n):
        for j, text in enumerate((f"a {WORDS[i]}", f"the digit {i}")):
            caps[i, j, : len(text)] = torch.tensor(list(text.encode("ascii")), dtype=torch.uint8)
    return x, caps


def tiny(seed: int = 0) -> Clip:
    torch.manual_seed(seed)
    return Clip(**TINY)


def test_training_matches_images_to_their_captions_and_is_deterministic():
    x, caps = pairs()
    texts = [f"a {w}" for w in WORDS]
    model = tiny()
    before = retrieval_accuracy(model, x, texts, 8, seed=0)
    losses = train_clip(model, x, caps, steps=80, batch_size=8, lr=1e-2)
    after = retrieval_accuracy(model, x, texts, 8, seed=0)
    print(f"loss {losses[0]:.2f} -> {losses[-1]:.2f}; retrieval among 8: {before:.2f} -> {after:.2f}")
    assert losses[-1] < losses[0] - 1 and after >= 0.75 > before + 0.25
    runs = []
    for seed in (0, 0, 1):  # the same seed gives the same weights, another seed others
        runs.append(tiny())
        train_clip(runs[-1], x, caps, steps=5, batch_size=4, lr=1e-2, seed=seed)
    state = runs[0].state_dict()
    assert all(torch.equal(v, state[k]) for k, v in runs[1].state_dict().items())
    assert not torch.equal(runs[2].image.proj.weight, runs[0].image.proj.weight)


def test_the_shipped_weights_score_real_pairs_far_above_shuffled_ones():
    """On the captioned test split, each image with one of its captions: the numbers the
    training script recorded in the file are reproduced, and they are far from chance."""
    from genloom_eval.data.captioned_mnist import CaptionedMNIST

    meta = clip_metadata(SHIPPED)
    test = CaptionedMNIST(CaptionedMNIST.Config()).splits(0.1, 0.1, 0)["test"]
    model = load_clip()
    scores = score_split(model, test.x, pick_phrasings(test.captions, int(meta["seed"])), int(meta["seed"]))
    print({k: round(v, 4) for k, v in scores.items()})
    assert f"{scores['retrieval']:.4f}" == meta["test_retrieval"]
    assert abs(scores["clip_score"] - float(meta["test_clip_score"])) < 1e-3
    assert scores["retrieval"] >= 0.6 and scores["retrieval_shuffled"] < 0.2  # among 10: chance ~0.1
    assert scores["clip_score"] > scores["clip_score_shuffled"] + 20
    assert SHIPPED.stat().st_size < 600_000


def test_the_script_has_help_rejects_bad_arguments_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "InfoNCE" in capsys.readouterr().out
    for args, message in ((["--steps", "0"], "--steps"), (["--width", "9999"], "--width"),
                          (["--out", str(tmp_path / "no" / "c.safetensors")], "no folder")):
        assert main(["--out", str(tmp_path / "c.safetensors"), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def test_the_script_writes_the_same_file_for_the_same_seed(tmp_path, capsys):
    from safetensors.torch import load_file

    files = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        out = tmp_path / f"{name}.safetensors"
        assert main(["--out", str(out), "--steps", "3", "--batch-size", "16", "--seed", seed, *TINY_ARGS,
                     "--json"]) == 0
        files.append((load_file(str(out)), clip_metadata(out)))  # the header's key order varies
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (a, meta_a), (b, meta_b), (c, _) = files
    assert meta_a == meta_b and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert {"test_retrieval", "test_clip_score_shuffled", "seed", "data", "steps"} <= set(record)
    meta = clip_metadata(tmp_path / "c.safetensors")
    assert meta["seed"] == "1" and meta["test_retrieval"] == record["test_retrieval"]
    assert load_clip(tmp_path / "c.safetensors").config == {**TINY, "context": 96}


def damaged(tmp_path):
    """(name, path, what the error says) for files load_clip must refuse."""
    good = tmp_path / "good.safetensors"
    save_clip(tiny(), good, {"seed": 0})
    out = [("missing", tmp_path / "none.safetensors", "no such file")]
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    out.append(("junk", junk, "not a readable safetensors file"))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    out.append(("truncated", cut, "not a readable safetensors file"))
    from safetensors.torch import load_file, save_file
    state = load_file(str(good))
    for name, config, message in (("huge", {**TINY, "context": 96, "width": 10**9}, "outside"),
                                  ("other shape", {**TINY, "context": 96, "width": 5}, "shape"),
                                  ("no config", None, "no architecture")):
        path = tmp_path / f"{name}.safetensors"
        save_file(state, str(path), metadata=None if config is None else {"config": json.dumps(config)})
        out.append((name, path, message))
    nan = tmp_path / "nan.safetensors"
    save_file({**state, "logit_scale": torch.tensor(float("nan"))}, str(nan),
              metadata={"config": json.dumps({**TINY, "context": 96})})
    out.append(("nan", nan, "non-finite"))
    return out


def test_damaged_weights_are_one_line_config_errors(tmp_path):
    for name, path, message in damaged(tmp_path):
        with pytest.raises(ConfigError, match=message) as err:
            load_clip(path)
        assert "\n" not in str(err.value), name
    assert isinstance(load_clip(tmp_path / "good.safetensors"), Clip)


def small_t2i(*extra: str) -> list[str]:
    return ["model.name=t2i", "data.name=captioned_mnist", "model.channels=4", "model.heads=1",
            "model.timesteps=4", "model.text_encoder.dim=8", "model.text_encoder.layers=0",
            "model.text_encoder.heads=1", "model.text_checkpoint=''", *extra]


def test_clip_score_reports_samples_floors_and_chance_on_a_t2i_model():
    from genloom import build_model, load_config
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits
    from genloom_t2i.clip_metric import ClipScore

    cfg = load_config(None, small_t2i(), check_trainer=False)
    data = DataSplits(build_dataset(cfg), cfg.data)
    data.eval_n = 40
    model = build_model(cfg, data.info).eval()
    out = ClipScore(steps=2)(model, data)
    print({k: round(v, 3) for k, v in out.items()})
    for prefix in ("test/", "test/combo_"):
        for key in ("clip_score", "clip_retrieval"):
            assert {f"{prefix}{key}{s}" for s in ("", "_floor", "_chance")} <= set(out)
        # the real images read their own prompts far better than shuffled ones
        assert out[f"{prefix}clip_score_floor"] > out[f"{prefix}clip_score_chance"] + 10
        assert out[f"{prefix}clip_retrieval_floor"] > out[f"{prefix}clip_retrieval_chance"] + 0.2
    # an untrained model's noise fits no prompt
    assert out["test/clip_score"] < out["test/clip_score_floor"] - 10
    assert all(math.isfinite(v) for v in out.values())


def test_prompt_fidelity_and_clip_score_share_one_draw_per_evaluation(monkeypatch):
    """Run together (as ``genloom evaluate`` does, on one datamodule) the two metrics sample
    each split once, not twice, and score exactly what each scores alone."""
    from genloom import build_model, load_config
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits
    from genloom_t2i.clip_metric import ClipScore
    from genloom_t2i.metrics import PromptFidelity

    cfg = load_config(None, small_t2i(), check_trainer=False)
    fresh = lambda: setattr(data := DataSplits(build_dataset(cfg), cfg.data), "eval_n", 8) or data  # noqa: E731
    model = build_model(cfg, fresh().info).eval()
    alone = {**PromptFidelity(steps=2)(model, fresh()), **ClipScore(steps=2)(model, fresh())}
    calls = []
    real_sample = model.sample
    monkeypatch.setattr(model, "sample", lambda *a, **k: calls.append(a) or real_sample(*a, **k))
    shared = fresh()
    together = {**PromptFidelity(steps=2)(model, shared), **ClipScore(steps=2)(model, shared)}
    assert len(calls) == 2  # the test prompts and the held-out combinations, once each
    assert together == alone
    ClipScore(steps=3)(model, shared)  # other options are other samples
    assert len(calls) == 4


def test_clip_score_options_are_checked(tmp_path):
    from genloom_t2i.clip_metric import ClipScore

    assert ClipScore(steps=5, guidance=2).options == {"steps": 5, "guidance": 2}
    for bad in ({"steps": 0}, {"guidance": -1}, {"candidates": 1}, {"candidates": 2.5}):
        with pytest.raises(ConfigError, match="metric clip_score"):
            ClipScore(**bad)
    with pytest.raises(ConfigError, match="no such file"):
        ClipScore(weights=str(tmp_path / "none.safetensors"))
    with pytest.raises(ConfigError, match="needs a text-to-image model"):
        ClipScore()(object(), None)


def genloom(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    done = subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == code, done.stderr[-2000:]
    return done


@pytest.mark.slow  # ~40 s: trains a tiny run, then three genloom evaluate processes
def test_clip_score_through_genloom_evaluate_and_a_damaged_file_is_exit_2(tmp_path):
    run = tmp_path / "run"
    genloom("train", "t2i-mnist", *small_t2i(), "data.batch_size=16", "trainer.max_epochs=1",
            "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "trainer.enable_progress_bar=false",
            "sample.n=0", "checkpoint.every_n_epochs=0", f"output_dir={run}")
    done = genloom("evaluate", str(run), "--metric", "clip_score", "--n", "20", "--set", "clip_score.steps=2",
                   "--json")
    out = json.loads(done.stdout)
    metrics = out.get("metrics", out)
    assert metrics["test/clip_score_floor"] > metrics["test/clip_score_chance"] + 10
    assert 0 <= metrics["test/combo_clip_retrieval"] <= 1
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    before = sorted(p.name for p in run.rglob("*"))
    done = genloom("evaluate", str(run), "--metric", "clip_score", "--set", f"clip_score.weights={junk}",
                   code=2)
    assert "not a readable safetensors file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in run.rglob("*")) == before
