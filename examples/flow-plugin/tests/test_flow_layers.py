"""The realnvp generator's layers: exact log-determinants, exact inverses, ActNorm's
data-dependent start, and one-line errors for bad options."""

from __future__ import annotations

import pytest
import torch

from genloom import ConfigError, DataInfo, InvertibleGenerator, build_model, load_config

POINTS = DataInfo(kind="points", shape=(2,))


def make_flow(shape: tuple[int, ...], *overrides: str, seed: int = 0, jitter: float = 0.2):
    """A realnvp flow for data of ``shape`` with every parameter moved off its identity start
    (and ActNorm initialised on a random batch), so no layer is trivially exact."""
    torch.manual_seed(seed)
    info = DataInfo(kind="points" if len(shape) == 1 else "image", shape=shape)
    cfg = load_config(None, ["model.name=flow", "model.flow.layers=4", "model.flow.hidden=8",
                             *overrides], check_trainer=False)
    flow = build_model(cfg, info).flow
    flow.train()
    flow.inverse(torch.randn(16, *shape) * 0.7 + 0.3)  # ActNorm's data-dependent start
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(torch.randn_like(p) * jitter)
    return flow.eval()


CASES = [
    ((2,), ["model.flow.mask=halves"]),
    ((5,), ["model.flow.conv1x1=true"]),
    ((1, 4, 4), ["model.flow.mask=checkerboard"]),
    ((2, 4, 4), ["model.flow.mask=channel", "model.flow.conv1x1=true"]),
    ((1, 4, 4), ["model.flow.mask=mixed", "model.flow.conv1x1=true"]),
]


@pytest.mark.parametrize("shape,overrides", CASES)
def test_logdet_equals_log_abs_det_of_the_autograd_jacobian(shape, overrides):
    flow = make_flow(shape, *overrides).double()
    x = torch.randn(3, *shape, dtype=torch.double)
    _, logdet = flow.inverse(x)
    d = x[0].numel()
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: flow.inverse(v)[0], x[i : i + 1])
        _, expected = torch.linalg.slogdet(jac.reshape(d, d))
        assert float(logdet[i].detach()) == pytest.approx(float(expected), abs=1e-8)
    assert logdet.abs().min() > 1e-3  # the layers really change volume


@pytest.mark.parametrize("shape,overrides", CASES)
def test_forward_and_inverse_round_trip(shape, overrides):
    # float32, and parameters moved less than above: a flow as far from its start as the
    # Jacobian test's maps values to ~1e3, where float32 itself rounds at 1e-4
    flow = make_flow(shape, *overrides, jitter=0.05)
    x = torch.randn(64, *shape)
    z, _ = flow.inverse(x)
    assert z.shape == x.shape
    assert (flow(z) - x).abs().max() < 1e-5
    z2 = torch.randn(64, *shape)
    assert (flow.inverse(flow(z2))[0] - z2).abs().max() < 1e-5
    assert (z - x).abs().max() > 0.1  # not the identity


def test_every_example_has_its_own_logdet():
    flow = make_flow((1, 4, 4), "model.flow.mask=checkerboard")
    x = torch.randn(4, 1, 4, 4)
    _, together = flow.inverse(x)
    alone = torch.cat([flow.inverse(x[i : i + 1])[1] for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert together.std() > 1e-3


def test_the_flow_is_an_invertible_generator_whose_log_prob_is_base_plus_logdet():
    flow = make_flow((2,))
    assert isinstance(flow, InvertibleGenerator)
    assert flow.latent_shape == flow.data_shape == (2,)
    x = torch.randn(8, 2)
    z, logdet = flow.inverse(x)
    base = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert torch.allclose(flow.log_prob(x), base + logdet, atol=1e-5)


def test_actnorm_initialises_from_the_first_training_batch_only():
    from genloom_flow.actnorm import ActNorm

    layer = ActNorm(3)
    x = torch.randn(256, 3, 4, 4) * torch.tensor([2.0, 0.5, 1.0]).view(1, 3, 1, 1) + 5.0
    layer.eval()
    z, _ = layer.inverse(x)
    assert torch.equal(z, x) and not bool(layer.initialized)  # eval mode never initialises
    layer.train()
    z, logdet = layer.inverse(x)
    per_channel = z.transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel.std(1, unbiased=False), torch.ones(3), atol=1e-3)
    std = x.transpose(0, 1).reshape(3, -1).std(1, unbiased=False)
    assert float(logdet[0].detach()) == pytest.approx(-16 * float(std.log().sum()), abs=1e-3)
    again, _ = layer.inverse(x * 3.0)  # a second batch does not re-initialise
    bias, scale = layer.bias.view(1, 3, 1, 1), layer.log_scale.exp().view(1, 3, 1, 1)
    assert torch.allclose(again, (x * 3.0 + bias) * scale)


def test_a_reloaded_flow_keeps_its_actnorm_values():
    flow = make_flow((2,))
    state = flow.state_dict()
    assert any(k.endswith("initialized") for k in state)
    fresh = make_flow((2,), seed=1)
    fresh.load_state_dict(state)
    fresh.train()
    x = torch.randn(8, 2) * 10
    assert torch.allclose(fresh.inverse(x)[0], flow.inverse(x)[0])


@pytest.mark.parametrize("shape,override,message", [
    ((2,), "model.flow.mask=checkerboard", "vectors use mask=halves"),
    ((1, 8, 8), "model.flow.mask=halves", "images use one of"),
    ((1, 8, 8), "model.flow.mask=diagonal", "is not one of"),
    ((1, 7, 7), "model.flow.mask=channel", "even height and width"),
    ((2,), "model.flow.layers=0", "layers=0 must be at least 1"),
    ((2,), "model.flow.scale_bound=0", "scale_bound=0.0 must be positive"),
    ((2,), "model.levels=1", "must be 0 (continuous) or at least 2"),
    ((2,), "model.conditional=true", "needs a dataset with class labels"),
    ((1,), "model.flow.mask=auto", "at least 2 features"),
])
def test_bad_option_values_are_one_line_config_errors(shape, override, message):
    info = DataInfo(kind="points" if len(shape) == 1 else "image", shape=shape)
    cfg = load_config(None, ["model.name=flow", override], check_trainer=False)
    with pytest.raises(ConfigError) as err:
        build_model(cfg, info)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
