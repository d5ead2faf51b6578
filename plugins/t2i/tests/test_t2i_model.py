"""The t2i model: the conformance kit, prompts steer samples, bad prompts are one-line
errors, and a tiny run trains, samples from a prompt, exports and resumes via the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from genloom import DataInfo, build_model, load_config
from genloom.errors import ConfigError
from genloom.sampling import draw
from genloom_devkit.testing import Case, parametrize_with_checks

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10, class_names=[str(i) for i in range(10)])
SMALL = ["model.channels=8", "model.heads=2", "model.timesteps=50", "model.text_encoder.dim=16",
         "model.text_encoder.layers=1", "model.text_encoder.heads=2"]
QUICK = ["data.name=digits", "data.batch_size=32", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
         "trainer.limit_val_batches=1", "trainer.enable_progress_bar=false", "sample.n=4",
         "sample.options={steps: 4}", "checkpoint.every_n_epochs=0", "model.name=t2i", *SMALL,
         "model.text_checkpoint=''"]  # the recipe's shipped encoder is 64 wide; SMALL's is 16


def t2i(*overrides: str):
    return build_model(load_config(None, ["model.name=t2i", *SMALL, *overrides], check_trainer=False), DIGITS)


def genloom(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    done = subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == code, done.stderr[-2000:]
    return done


@parametrize_with_checks([
    Case("t2i", DIGITS, SMALL, id="t2i-digits"),
    Case("t2i", DataInfo(kind="image", shape=(1, 12, 12)), [*SMALL, "model.ema=false"], id="t2i-unlabelled"),
    Case("t2i", DIGITS, [*SMALL, "model.objective=flow", "model.pooled=true"], id="t2i-flow-pooled"),
])
def test_t2i_conformance(case, check):
    check(case)


@torch.no_grad()
def test_the_prompt_changes_the_samples_and_a_seed_fixes_them():
    model = t2i().eval()
    with torch.no_grad():  # a random model: make its cross-attention matter
        for p in model.denoiser.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = draw(model, 2, generator=g(), prompt="a thin 3 leaning left", steps=3).data
    b = draw(model, 2, generator=g(), prompt="a thick 8, at the top", steps=3).data
    again = draw(model, 2, generator=g(), prompt="a thin 3 leaning left", steps=3).data
    assert torch.equal(a, again) and not torch.allclose(a, b)
    labels = draw(model, 2, cond=torch.tensor([3, 3]), generator=g(), steps=3).data
    assert torch.equal(labels, draw(model, 2, generator=g(), prompt="a 3", steps=3).data)
    both = draw(model, 2, generator=g(), prompt="a 3|a 8", steps=3).data
    assert torch.equal(both[0], labels[0])


def test_bad_prompts_and_options_are_config_errors():
    model = t2i().eval()
    with pytest.raises(ConfigError, match="does not know: '!'"):
        draw(model, 1, prompt="a 3!", steps=2)
    with pytest.raises(ConfigError, match="reads at most 96"):
        draw(model, 1, prompt="a" * 97, steps=2)
    with pytest.raises(ConfigError, match="guidance needs a model trained with condition dropout"):
        draw(t2i("model.cond_dropout=0").eval(), 1, prompt="a 3", guidance=2.0, steps=2)
    with pytest.raises(ConfigError, match="would call itself"):
        draw(model, 1, prompt="a 3", base="t2i:prompt", steps=2)


@pytest.mark.slow  # ~1 minute: eight genloom processes
def test_train_sample_export_resume_through_the_cli(tmp_path):
    run = tmp_path / "run"
    genloom("train", "t2i-mnist", *QUICK, f"output_dir={run}")
    assert (run / "checkpoints" / "last.ckpt").is_file()
    out = tmp_path / "three.png"
    genloom("sample", str(run), "--prompt", "a thin 3 leaning left", "guidance=3", "steps=3",
            "--n", "4", "--out", str(out))
    assert out.is_file()
    for bad, message in (("a 3!", "does not know"), ("x" * 200, "reads at most")):
        done = genloom("sample", str(run), "--prompt", bad, "--out", str(tmp_path / "bad.png"), code=2)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "bad.png").exists()
    genloom("export", str(run), str(tmp_path / "export"))
    genloom("sample", str(tmp_path / "export"), "--prompt", "a 7", "steps=2", "--n", "2",
            "--out", str(tmp_path / "seven.png"))
    genloom("train", "t2i-mnist", *QUICK, "trainer.max_epochs=2", f"output_dir={run}", "--resume")


@pytest.mark.slow
def test_a_short_training_follows_its_prompt_better_than_chance():
    """About 400 steps on the 8x8 digits with "a <digit>" prompts: the shipped digits
    classifier must read the asked digit on more than 10 % (chance) of the samples."""
    from genloom.build import build_dataset
    from genloom_eval.metrics.classifier import load_classifier

    torch.manual_seed(0)
    cfg = load_config(None, ["model.name=t2i", "data.name=digits", "model.channels=16",
                             "model.timesteps=200", "model.ema=false"], check_trainer=False)
    data = build_dataset(cfg)
    model = build_model(cfg, data.info)
    train = data.splits(0.1, 0.1, 0)["train"]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        idx = torch.randint(0, len(train), (64,), generator=g).tolist()
        opt.zero_grad()
        model.losses(train.__getitems__(idx))["loss"].backward()
        opt.step()
    model.eval()
    asked = torch.arange(100) % 10
    x = draw(model, 100, cond=asked, generator=torch.Generator().manual_seed(1), steps=20).data
    accuracy = float((load_classifier("digits")(x).argmax(1) == asked).float().mean())
    print(f"digit accuracy after 400 steps: {accuracy:.2f}")
    assert accuracy > 0.1


def test_the_pooled_prompt_reaches_every_block_without_cross_attention():
    """With ``pooled`` the prompt steers the denoiser through the time embedding alone;
    without it, zeroing cross-attention leaves the output blind to the prompt."""
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([10, 10])
    for pooled in (True, False):
        model = t2i(f"model.pooled={str(pooled).lower()}").eval()
        net = model.denoiser
        with torch.no_grad():
            for attn in (net.attn1, net.attn_mid, net.attn_up1):
                attn.out.weight.zero_()
                attn.out.bias.zero_()
            if pooled:  # a fresh model's last layer is random; make the pooled path matter
                net.pool[-1].weight.normal_()
            tokens = model.tokenize(["a 3", "a 8"])
            out = net(x[:1].expand(2, -1, -1, -1), t, tokens)
        assert torch.allclose(out[0], out[1]) != pooled


def test_flow_objective_trains_a_velocity_and_samples_with_flow_euler():
    model = t2i("model.objective=flow", "model.pooled=true")
    assert model.denoiser.prediction == "v" and model.base_sampler == "diffusion:flow_euler"
    batch = {"x": torch.rand(4, 1, 8, 8) * 2 - 1, "y": torch.tensor([1, 2, 3, 4])}
    loss = model.losses(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss) and model.denoiser.pool[0].weight.grad is not None
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = draw(model.eval(), 2, generator=g(), prompt="a 3", steps=3).data
    assert torch.equal(a, draw(model, 2, generator=g(), prompt="a 3", base="diffusion:flow_euler", steps=3).data)
    from genloom.interfaces import IncompatibleSamplerError
    with pytest.raises(IncompatibleSamplerError, match="flow_euler"):
        draw(model, 1, prompt="a 3", base="diffusion:ddim", steps=2)


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_the_loss_regresses_onto_the_prediction_kinds_target(kind):
    """A denoiser that outputs exactly the schedule's target for its kind has zero loss."""
    model = t2i(f"model.prediction={kind}")
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    schedule = model.noise_schedule

    def oracle(x_t, t, cond):  # the noise the model drew, recovered from x_t; then its target
        return schedule.target(kind, x, schedule.eps_from_x0(x, x_t, t), t)

    model.denoiser.forward = oracle
    assert float(model.losses({"x": x, "y": torch.tensor([1, 2, 3])})["loss"]) < 1e-8


@pytest.mark.parametrize("override, message", [
    ("model.objective=score", "unknown objective"),
    ("model.prediction=noise", "unknown kind"),
    ("model.flow_time=beta", "unknown time sampling"),
])
def test_bad_objectives_are_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        t2i(override)


def test_a_tiny_model_follows_its_prompt_better_than_shuffled_prompts():
    """Fast tier (~5 s on a free core): 60 steps of flow matching on the 8x8 digits 0, 1 and 7 with
    "a <digit>" prompts; the digits classifier must read the asked digit far more often
    than the same samples match a shuffled set of prompts (what ignoring the prompt gets)."""
    from genloom.build import build_dataset
    from genloom_eval.metrics.classifier import load_classifier

    torch.manual_seed(0)
    cfg = load_config(None, ["model.name=t2i", "data.name=digits", "model.objective=flow", "model.ema=false",
                             "model.pooled=true", *SMALL], check_trainer=False)
    data = build_dataset(cfg)
    model = build_model(cfg, data.info)
    train = data.splits(0.1, 0.1, 0)["train"]
    keep = [i for i in range(len(train)) if int(train[i]["y"]) in (0, 1, 7)]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        idx = [keep[j] for j in torch.randint(0, len(keep), (32,), generator=g).tolist()]
        opt.zero_grad()
        model.losses(train.__getitems__(idx))["loss"].backward()
        opt.step()
    asked = torch.tensor([0, 1, 7]).repeat(20)
    x = draw(model.eval(), 60, cond=asked, generator=torch.Generator().manual_seed(1), steps=10).data
    read = load_classifier("digits")(x).argmax(1)
    shuffled = asked[torch.randperm(60, generator=torch.Generator().manual_seed(2))]
    accuracy, chance = float((read == asked).float().mean()), float((read == shuffled).float().mean())
    print(f"digit accuracy after 60 steps: {accuracy:.2f}, against shuffled prompts {chance:.2f}")
    assert accuracy > chance + 0.25


@pytest.mark.parametrize("warmup, moved", [(True, 1 - 2 / 11), (False, 1 - 0.99)])
def test_ema_warmup_option_reaches_the_ema(warmup, moved):
    """model.ema_warmup ramps the EMA: its second update moves 1 - 2/11 of the way, not 1 - decay."""
    model = t2i("model.ema_decay=0.99", f"model.ema_warmup={warmup}")
    model.ema.update(model.denoiser)  # the first update copies
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.ema.module.parameters()]
    model.ema.update(model.denoiser)
    for old, new in zip(before, model.ema.module.parameters()):
        torch.testing.assert_close(new - old, torch.full_like(old, moved))
