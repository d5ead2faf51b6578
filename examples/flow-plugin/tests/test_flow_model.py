"""The flow model as genloom sees it: registration, import weight, the conformance kit,
seeded prior sampling, temperature, class conditioning, and the loss parts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genloom import DataInfo, build_model, load_config
from genloom_devkit.testing import Case, parametrize_with_checks, synthetic_batch

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
POINTS = DataInfo(kind="points", shape=(2,))
SMALL = ["model.flow.layers=2", "model.flow.hidden=8"]


def flow(info: DataInfo, *overrides: str):
    cfg = load_config(None, ["model.name=flow", *SMALL, *overrides], check_trainer=False)
    return build_model(cfg, info)


def test_tests_run_against_the_installed_package():
    import genloom_flow

    source = Path(__file__).resolve().parents[1]
    assert source not in Path(genloom_flow.__file__).resolve().parents


def test_plugin_loads_and_registers_its_components():
    from genloom.plugins import get_plugin_host

    info = get_plugin_host().plugins["flow"]
    assert info.status == "ok", info.error
    assert {"model:flow", "generator:realnvp"} <= set(info.components)


# the entry module's import weight is checked by the suite (check_entry_module_light)
@parametrize_with_checks([
    Case("flow", info, [*SMALL, *overrides], id=f"flow-{i}")
    for i, (info, overrides) in enumerate([
        (POINTS, []),
        (POINTS, ["model.flow.conv1x1=true", "model.flow.actnorm=false"]),
        (DataInfo(kind="points", shape=(3,)), []),
        (DIGITS, ["model.levels=17"]),
        (DIGITS, ["model.levels=17", "model.flow.mask=channel", "model.flow.conv1x1=true"]),
        (DIGITS, ["model.levels=17", "model.flow.mask=mixed", "model.conditional=true"]),
        (DataInfo(kind="image", shape=(3, 4, 4)), ["model.levels=0"]),
    ])
])
def test_flow_conformance(case, check):
    check(case)


def test_capabilities_and_the_generator_samplers_find():
    from genloom import Encoder, Generator

    model = flow(POINTS)
    assert model.likelihood == "exact" and model.has_latent_space and model.default_sampler == "prior"
    assert model.component(Generator) is model.flow and model.component(Encoder) is model.flow


def test_image_losses_report_bits_per_dim_and_points_do_not():
    import math

    model = flow(DIGITS, "model.levels=17")
    parts = {k: v.detach() for k, v in model.losses(synthetic_batch(DIGITS)).items()}
    expected = (float(parts["loss"]) - 64 * math.log(2 / 16)) / (64 * math.log(2))
    assert float(parts["bits_per_dim"]) == pytest.approx(expected, rel=1e-5)
    assert set(flow(POINTS).losses(synthetic_batch(POINTS))) == {"loss"}
    assert set(flow(DIGITS, "model.levels=0").losses(synthetic_batch(DIGITS))) == {"loss"}


@torch.no_grad()
def test_dequantisation_makes_the_image_loss_noisy_and_points_exact():
    digits = flow(DIGITS, "model.levels=17").eval()
    batch = synthetic_batch(DIGITS)
    assert float(digits.losses(batch)["loss"]) != float(digits.losses(batch)["loss"])
    points = flow(POINTS).eval()
    batch = synthetic_batch(POINTS)
    assert float(points.losses(batch)["loss"]) == float(points.losses(batch)["loss"])


def test_temperature_scales_the_latent():
    model = flow(POINTS)  # a fresh flow is the identity, so samples are the latents themselves
    hot = model.sample(2000, generator=torch.Generator().manual_seed(0)).data
    cold = model.sample(2000, generator=torch.Generator().manual_seed(0), temperature=0.5).data
    assert torch.allclose(cold, hot * 0.5, atol=1e-6)
    assert float(hot.std()) == pytest.approx(1.0, abs=0.05)


def test_a_conditional_flow_learns_and_samples_per_label():
    torch.manual_seed(0)
    model = flow(DIGITS, "model.levels=17", "model.conditional=true", "model.flow.layers=4")
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2  # label 0: top half dark, bottom bright; label 1: the reverse
    rows = torch.where(torch.arange(8) < 4, -1.0, 1.0).view(1, 1, 8, 1)
    noise = 0.25 * torch.randn(64, 1, 8, 8, generator=g)
    x = (rows * (1 - 2 * y.view(-1, 1, 1, 1)) * 0.5 + noise).clamp(-1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model.losses({"x": x, "y": y})["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        right, wrong = model.flow.log_prob(x, y).mean(), model.flow.log_prob(x, 1 - y).mean()
    assert right > wrong + 10.0

    def top_minus_bottom(label: int) -> float:
        s = model.sample(64, cond=torch.full((64,), label), generator=torch.Generator().manual_seed(0))
        assert s.cond.tolist() == [label] * 64
        return float(s.data[:, :, :4].mean() - s.data[:, :, 4:].mean())

    assert top_minus_bottom(0) < -0.2 and top_minus_bottom(1) > 0.2


def test_the_flow_asks_the_sample_kind_whether_data_is_continuous():
    from genloom import ConfigError

    with pytest.raises(ConfigError, match="not continuous"):
        flow(DataInfo(kind="tokens", shape=(9,), vocab_size=12))
    assert flow(DIGITS, "model.levels=17").bin is not None  # a kind with a value range
    assert flow(POINTS, "model.levels=17").bin is None  # no range: used as it is


def test_the_mnist_recipe_builds_a_28x28_flow_that_trains_and_samples_cold():
    """``realnvp-mnist``: 28x28 in and out (mixed masks squeeze to 14x14), a finite
    image loss with bits/dim, and samples drawn at the recipe's temperature 0.7."""
    cfg = load_config("realnvp-mnist", check_trainer=False)
    assert dict(cfg.sample.options) == {"temperature": 0.7}
    model = build_model(cfg, DataInfo(kind="image", shape=(1, 28, 28), num_classes=10))
    x = (torch.randint(0, 256, (4, 1, 28, 28)).float() / 255) * 2 - 1
    parts = model.losses({"x": x})
    assert torch.isfinite(parts["loss"]) and "bits_per_dim" in parts
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    cold = model.sample(3, generator=g(), temperature=0.7).data
    assert cold.shape == (3, 1, 28, 28)
    assert not torch.equal(cold, model.sample(3, generator=g()).data)
