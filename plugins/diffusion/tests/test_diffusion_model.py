"""The diffusion model: denoisers, the objective, condition dropout, EMA, the core loop."""

from dataclasses import dataclass

import pytest
import torch

import genloom
from genloom import DataInfo, Denoiser, load_config, train
from genloom.build import build_model
from genloom.errors import ComponentError, ConfigError
from genloom_devkit.testing import Case, parametrize_with_checks

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
POINTS = DataInfo(kind="points", shape=(2,))
MNIST28 = DataInfo(kind="image", shape=(1, 28, 28), num_classes=10)
#: a UNet small enough for tests on a CPU
TINY = ["model.denoiser.channels=8", "model.denoiser.blocks=1", "model.denoiser.groups=4",
        "model.denoiser.heads=2"]
#: the conformance checks sample several times with the default sampler (ddim, at most 50 steps)
FEW_STEPS = ["model.timesteps=20"]


def diffusion(info=DIGITS, *overrides):
    cfg = load_config(None, ["model.name=diffusion", *overrides], check_trainer=False)
    return build_model(cfg, info)


def test_plugin_module_is_import_light():
    import subprocess
    import sys

    code = "import sys, genloom_diffusion.plugin; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("size,channels,mult", [(8, 1, [1, 2]), (16, 3, [1, 2, 2]), (32, 3, [1, 2, 2, 2]),
                                                (28, 1, [1, 2, 2]), (12, 1, [1, 2])])
def test_unet_predicts_the_shape_of_its_input(size, channels, mult):
    info = DataInfo(kind="image", shape=(channels, size, size), num_classes=10)
    model = diffusion(info, *TINY, f"model.denoiser.channel_mult={mult}", "model.conditional=true")
    x = torch.randn(3, channels, size, size)
    out = model.denoiser(x, torch.tensor([0, 500, 999]), torch.tensor([1, 2, 10]))  # 10: no label
    assert out.shape == x.shape
    a = model.denoiser(x, torch.tensor([0, 0, 0]), torch.tensor([1, 1, 1]))
    assert not torch.allclose(a, model.denoiser(x, torch.tensor([900, 900, 900]), torch.tensor([1, 1, 1])))
    assert not torch.allclose(a, model.denoiser(x, torch.tensor([0, 0, 0]), torch.tensor([2, 2, 2])))


def test_unet_refuses_shapes_it_cannot_handle():
    for shape, message in [((1, 12, 14), "use model.denoiser.name=mlp"), ((2,), "use model.denoiser.name=mlp"),
                           ((1, 4, 4), "at least 8")]:
        with pytest.raises(ComponentError, match=message):
            diffusion(DataInfo(kind="image", shape=shape), *TINY)
    # 28 halves to 14 and 7, but not to 3.5: three levels fit 28x28 MNIST, four do not
    with pytest.raises(ComponentError, match="28 is not divisible by 8"):
        diffusion(DataInfo(kind="image", shape=(1, 28, 28)), *TINY, "model.denoiser.channel_mult=[1,2,2,2]")
    with pytest.raises(ComponentError, match="not divisible by 2"):
        diffusion(DataInfo(kind="image", shape=(1, 9, 9)), *TINY)
    with pytest.raises(ComponentError, match="below 2x2"):
        diffusion(DIGITS, *TINY, "model.denoiser.channel_mult=[1,2,2,2]")
    with pytest.raises(ComponentError, match="groups"):
        diffusion(DIGITS, "model.denoiser.channels=10")


def test_mlp_denoiser_takes_any_shape():
    for shape in [(2,), (8,), (1, 8, 8)]:
        model = diffusion(DataInfo(kind="points", shape=shape), "model.denoiser.name=mlp")
        x = torch.randn(5, *shape)
        assert model.denoiser(x, torch.arange(5)).shape == x.shape


def test_model_options_are_checked():
    with pytest.raises(ConfigError, match="needs a dataset with class labels"):
        diffusion(POINTS, "model.denoiser.name=mlp", "model.conditional=true")
    with pytest.raises(ConfigError, match="loss_weighting"):
        diffusion(POINTS, "model.denoiser.name=mlp", "model.loss_weighting=snr")
    with pytest.raises(ComponentError, match="prediction must be eps, x0 or v"):
        diffusion(POINTS, "model.denoiser.name=mlp", "model.denoiser.prediction=noise")
    with pytest.raises(ConfigError, match="cond_dropout"):
        diffusion(DIGITS, *TINY, "model.conditional=true", "model.cond_dropout=1.0")


@parametrize_with_checks([
    Case("diffusion", DIGITS, [*TINY, *FEW_STEPS], id="diffusion-unet"),
    Case("diffusion", DIGITS, [*TINY, "model.conditional=true", "model.denoiser.prediction=v",
                               "model.loss_weighting=min_snr", *FEW_STEPS], id="diffusion-v-conditional"),
    Case("diffusion", DIGITS, [*TINY, "model.schedule.name=cosine", "model.denoiser.prediction=x0",
                               "model.ema=false", *FEW_STEPS], id="diffusion-x0-cosine"),
    Case("diffusion", POINTS, ["model.denoiser.name=mlp", "model.denoiser.hidden=32", *FEW_STEPS],
         id="diffusion-points"),
    Case("diffusion", DIGITS, [*TINY, "model.objective=flow", "model.denoiser.prediction=v",
                               "model.conditional=true"], id="flow-conditional"),
    Case("diffusion", MNIST28, [*TINY, "model.objective=flow", "model.denoiser.prediction=v",
                                "model.conditional=true", "model.denoiser.channel_mult=[1,2,2]",
                                "model.ema_warmup=true"], id="flow-28x28-conditional"),
])
def test_diffusion_conformance(case, check):
    check(case)


def test_loss_targets_the_prediction_kind():
    """A denoiser that outputs exactly its target has zero loss, for each kind."""
    for kind in ("eps", "x0", "v"):
        model = diffusion(POINTS, "model.denoiser.name=mlp", f"model.denoiser.prediction={kind}")
        x = torch.randn(16, 2)
        torch.manual_seed(3)
        t = torch.randint(0, 1000, (16,))
        noise = torch.randn(16, 2)
        target = model.noise_schedule.target(kind, x, noise, t)
        model.denoiser.forward = lambda x_t, t_, cond=None, _target=target: _target
        torch.manual_seed(3)
        assert model.losses({"x": x})["loss"].item() == pytest.approx(0.0, abs=1e-12)
        if kind != "x0":  # other timesteps and noise: no longer the target (x0's is x itself)
            torch.manual_seed(4)
            assert model.losses({"x": x})["loss"].item() > 0.01


class LabelSpy(Denoiser):
    """Records the labels it is given; predicts zeros."""

    @dataclass
    class Config:
        pass

    seen: list = []

    def __init__(self, cfg, data_shape, num_classes=0, timesteps=1000):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x_t, t, cond=None):
        LabelSpy.seen.append(None if cond is None else cond.clone())
        return x_t * self.w


def test_condition_dropout_replaces_labels_with_no_label_in_training_only():
    genloom.register("denoiser", "label-spy", LabelSpy)
    model = diffusion(DIGITS, "model.denoiser.name=label-spy", "model.conditional=true",
                      "model.cond_dropout=0.5")
    y = torch.randint(0, 10, (4000,))
    batch = {"x": torch.zeros(4000, 1, 8, 8), "y": y}
    model.train()
    model.losses(batch)
    seen = LabelSpy.seen[-1]
    dropped = seen == 10
    assert 0.45 < dropped.float().mean() < 0.55 and torch.equal(seen[~dropped], y[~dropped])
    model.eval()
    model.losses(batch)
    assert torch.equal(LabelSpy.seen[-1], y)
    unconditional = diffusion(DIGITS, "model.denoiser.name=label-spy")
    unconditional.losses(batch)
    assert LabelSpy.seen[-1] is None


def test_trains_through_the_core_loop_with_ema_and_sample_grids(tmp_path):
    cfg = load_config(None, [
        "model.name=diffusion", *TINY, "model.ema_decay=0.5", "data.name=digits",
        f"output_dir={tmp_path / 'run'}", "trainer.max_steps=6", "optim.accumulate=2",
        "trainer.enable_progress_bar=false", "sample.n=4", "sample.options={steps: 3}",
    ])
    result = train(cfg, echo=None)
    model = result.model
    assert result.trainer.global_step == 6 and result.samples.name.startswith("epoch-")
    # one EMA update per optimizer step, not per batch (two batches per step here)
    assert int(model.ema.n_averaged) == 6
    assert model.component(Denoiser) is model.ema.module
    raw = dict(model.denoiser.named_parameters())
    ema = dict(model.ema.module.named_parameters())
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    assert not any(p.requires_grad for p in model.ema.parameters())
    # the samplers use the EMA copy: breaking it changes the samples, breaking the raw one does not
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    before = model.sample(2, steps=3, generator=g()).data
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.add_(1.0)
    assert torch.equal(model.sample(2, steps=3, generator=g()).data, before)
    with torch.no_grad():
        for p in model.ema.module.parameters():
            p.add_(1.0)
    assert not torch.equal(model.sample(2, steps=3, generator=g()).data, before)


def test_trains_on_points_with_the_mlp(tmp_path):
    cfg = load_config(None, [
        "model.name=diffusion", "model.denoiser.name=mlp", "model.denoiser.hidden=32",
        "data.name=toy2d", "data.n=512", f"output_dir={tmp_path / 'run'}", "trainer.max_steps=5",
        "trainer.enable_progress_bar=false", "sample.n=16", "sample.sampler=dpmpp_2m",
    ])
    result = train(cfg, echo=None)
    assert result.samples.is_file() and result.trainer.global_step == 5


@pytest.mark.parametrize("warmup, moved", [(True, 1 - 2 / 11), (False, 1 - 0.99)])
def test_ema_warmup_option_reaches_the_ema(warmup, moved):
    """model.ema_warmup ramps the EMA: its second update moves 1 - 2/11 of the way, not 1 - decay."""
    model = diffusion(DIGITS, *TINY, "model.ema_decay=0.99", f"model.ema_warmup={warmup}")
    assert model.ema.warmup is warmup
    model.ema.update(model.denoiser)  # the first update copies
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.ema.module.parameters()]
    model.ema.update(model.denoiser)
    for old, new in zip(before, model.ema.module.parameters()):
        torch.testing.assert_close(new - old, torch.full_like(old, moved))
