"""The GAN plugin: networks, losses and penalties, EMA, samplers, conformance."""

import pytest
import torch
from torch import nn

from genloom import DataInfo, Generator, load_config
from genloom.build import build_model
from genloom.errors import ComponentError, ConfigError
from genloom_devkit.testing import Case, parametrize_with_checks, synthetic_batch
from genloom_gan.losses import discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from genloom_gan.truncation import truncated_normal

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
POINTS = DataInfo(kind="points", shape=(2,))
MNIST = DataInfo(kind="image", shape=(1, 28, 28), num_classes=10)
MLP = ["model.generator.name=mlp", "model.discriminator.name=mlp"]
SMALL = ["model.generator.channels=8", "model.discriminator.channels=8", "model.latent_dim=8"]


def gan(info=DIGITS, *overrides):
    cfg = load_config(None, ["model.name=gan", *overrides], check_trainer=False)
    return build_model(cfg, info)


@parametrize_with_checks([
    Case("gan", DIGITS, SMALL, id="gan-dcgan"),
    Case("gan", DIGITS, SMALL + ["model.conditional=true", "model.loss=hinge", "model.spectral_norm=true"],
         id="gan-hinge-conditional"),
    Case("gan", DIGITS, SMALL + ["model.loss=wgan-gp", "model.r1_weight=1.0", "model.ema_decay=0.9"],
         id="gan-wgan-gp"),
    Case("gan", POINTS, MLP + ["model.latent_dim=4"], id="gan-points"),
    Case("gan", MNIST, SMALL + ["model.conditional=true", "model.loss=hinge", "model.spectral_norm=true",
                                "model.discriminator.minibatch_std=true"], id="gan-28x28-conditional-mbstd"),
])
def test_gan_conformance(case, check):
    check(case)


@pytest.mark.parametrize("size", [8, 14, 16, 28, 32])
def test_dcgan_shapes(size):
    info = DataInfo(kind="image", shape=(3, size, size), num_classes=4)
    model = gan(info, *SMALL, "model.conditional=true")
    assert isinstance(model.generator, Generator)
    y = torch.tensor([0, 1, 2, 3, 0])
    x = model.generator(torch.randn(5, 8), y)
    assert x.shape == (5, 3, size, size) and x.abs().max() <= 1
    assert model.discriminator(x, y).shape == (5,)


def test_dcgan_builds_28x28_from_7x7_without_padding():
    # 28 = 7 x 2 x 2: two doublings from a 7x7 map, not three from 4x4 of a padded 32x32
    model = gan(DataInfo(kind="image", shape=(1, 28, 28), num_classes=10), *SMALL)
    assert model.generator.project[1].unflattened_size == (32, 7, 7)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.generator.modules()) == 2
    strided = [m for m in model.discriminator.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 2 and model.discriminator.head.in_features == 32 * 7 * 7


@pytest.mark.parametrize("size", [4, 9, 12 * 3, 7])
def test_dcgan_rejects_sizes_it_cannot_build(size):
    with pytest.raises(ComponentError, match="4 to 7 times a power of two"):
        gan(DataInfo(kind="image", shape=(1, size, size)), *SMALL)


def test_minibatch_std_lets_the_discriminator_see_a_batch_without_variety():
    torch.manual_seed(0)
    model = gan(MNIST, *SMALL, "model.discriminator.minibatch_std=true")
    d = model.discriminator
    assert d.head.in_features == (32 + 1) * 7 * 7
    varied = torch.rand(8, 1, 28, 28) * 2 - 1
    same = varied[:1].expand(8, -1, -1, -1)
    with torch.no_grad():
        h_varied, h_same = d.features[:-1](varied), d.features[:-1](same)
    # the appended channel: zero (up to the epsilon) for identical examples, > 0 otherwise
    assert h_same[:, -1].max() < 1e-3 < h_varied[:, -1].min()
    assert torch.equal(h_varied[:, -1], h_varied[:1, -1].expand(8, -1, -1))
    # the same example scores differently alone in a collapsed batch than among varied ones
    assert not torch.allclose(d(same)[0], d(torch.cat([same[:1], varied[1:]]))[0])
    assert d(varied[:1]).shape == (1,)  # a batch of one has no spread: the channel is 0


def test_dcgan_rejects_data_that_is_not_a_square_image():
    with pytest.raises(ComponentError, match="square"):
        gan(POINTS)


def test_config_mistakes_are_named():
    with pytest.raises(ConfigError, match="hinge"):
        gan(DIGITS, "model.loss=lsgan")
    with pytest.raises(ConfigError, match="d_steps"):
        gan(DIGITS, "model.d_steps=0")
    with pytest.raises(ConfigError, match="class labels"):
        gan(POINTS, *MLP, "model.conditional=true")


def test_players_and_step_ratio():
    model = gan(DIGITS, *SMALL, "model.d_steps=3")
    d, g = model.optimizer_groups()
    assert (d.name, d.every_n_steps, g.name, g.every_n_steps) == ("discriminator", 1, "generator", 3)
    assert {id(p) for p in d.parameters()} == {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in g.parameters()} == {id(p) for p in model.generator.parameters()}


def _descends(model, player, steps=30):
    """The player's own loss on a fixed batch (and fixed noise) before and after steps."""
    batch = synthetic_batch(DIGITS, n=32)
    params = model.discriminator if player == "discriminator" else model.generator
    opt = torch.optim.Adam(params.parameters(), lr=1e-3)

    def loss():
        torch.manual_seed(0)  # the same z (and gradient-penalty mix) every time
        return model.losses(batch, player=player)["loss"]

    first = loss().item()
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    return first, loss().item()


@pytest.mark.parametrize("kind", ["ns", "hinge", "wgan-gp"])
@pytest.mark.parametrize("player", ["discriminator", "generator"])
def test_each_loss_decreases_its_own_objective(kind, player):
    torch.manual_seed(0)
    model = gan(DIGITS, *SMALL, f"model.loss={kind}")
    before, after = _descends(model, player)
    assert after < before - 0.05 * max(1.0, abs(before)), (before, after)


class Linear(nn.Module):
    """A critic whose input gradient is known everywhere: w."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_matches_the_closed_form_and_trains_the_critic():
    critic = Linear(torch.tensor([3.0, 4.0]))  # ||w|| = 5 -> penalty (5 - 1)^2 = 16
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    gp = gradient_penalty(critic, real, fake)
    assert torch.isfinite(gp) and gp.item() == pytest.approx(16.0, rel=1e-5)
    gp.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(critic.w.grad, torch.tensor([4.8, 6.4]), atol=1e-4)
    r1, logits = r1_penalty(critic, real)
    assert r1.item() == pytest.approx(25.0, rel=1e-5) and logits.shape == (64,)


def test_gradient_penalty_is_nonzero_for_the_gan_critic():
    model = gan(DIGITS, *SMALL, "model.loss=wgan-gp")
    parts = model.losses(synthetic_batch(DIGITS, n=16), player="discriminator")
    assert torch.isfinite(parts["gp"]) and parts["gp"] > 0
    assert torch.allclose(parts["loss"], parts["adversarial"] + 10.0 * parts["gp"])


def test_loss_values_at_known_logits():
    zero = torch.zeros(4)
    assert discriminator_loss("ns", zero, zero).item() == pytest.approx(2 * 0.693147, rel=1e-5)
    assert discriminator_loss("hinge", torch.full((4,), 2.0), torch.full((4,), -2.0)).item() == 0
    assert discriminator_loss("wgan-gp", torch.ones(4), -torch.ones(4)).item() == -2
    assert generator_loss("hinge", torch.ones(4)).item() == -1
    with pytest.raises(ValueError, match="unknown GAN loss"):
        generator_loss("lsgan", zero)


def test_spectral_norm_bounds_every_discriminator_layer():
    model = gan(DIGITS, *SMALL, "model.spectral_norm=true")
    model.discriminator.train()
    batch = synthetic_batch(DIGITS, n=8)
    for _ in range(20):  # power iterations converge during forward passes
        model.discriminator(batch["x"])
    layers = [m for m in model.discriminator.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    for m in layers:
        w = m.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2) <= 1.05


def test_ema_generator_is_averaged_and_used_for_sampling():
    model = gan(DIGITS, *SMALL, "model.ema_decay=0.5")
    assert model.component(Generator) is model.ema.module
    assert not any(p.requires_grad for p in model.ema.parameters())
    model.after_optimizer_step("generator")  # first update copies the weights
    first = [p.clone() for p in model.generator.parameters()]
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    model.after_optimizer_step("generator")
    for old, new, avg in zip(first, model.generator.parameters(), model.ema.module.parameters()):
        assert torch.allclose(avg, 0.5 * old + 0.5 * new)
    model.after_optimizer_step("discriminator")  # no generator step, no update
    assert torch.allclose(next(model.ema.module.parameters()), 0.5 * first[0] + 0.5 * next(model.generator.parameters()))
    assert gan(DIGITS, *SMALL).component(Generator) is not None
    assert gan(DIGITS, *SMALL).ema is None


def test_validation_scores_held_out_data_against_the_sampling_generator():
    model = gan(DIGITS, *SMALL, "model.ema_decay=0.5").eval()
    model.after_optimizer_step("generator")
    with torch.no_grad():
        for p in model.generator.parameters():  # the trained copy drifts from the EMA one
            p.add_(1.0)
    batch = synthetic_batch(DIGITS, n=6)
    with torch.no_grad():
        torch.manual_seed(0)
        parts = model.validation_losses(batch)
        torch.manual_seed(0)
        z = torch.randn(6, model.cfg.latent_dim)
        fake_logits = model.discriminator(model.ema.module(z))
        real_logits = model.discriminator(batch["x"])
    assert set(parts) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert torch.allclose(parts["real_score"], real_logits.mean())
    assert torch.allclose(parts["fake_score"], fake_logits.mean())  # the EMA generator's fakes
    assert torch.allclose(parts["d_loss"], discriminator_loss("ns", real_logits, fake_logits))
    assert torch.allclose(parts["g_loss"], generator_loss("ns", fake_logits))


def test_truncated_normal_stays_inside_and_is_seeded():
    a = truncated_normal((500, 8), 0.5, torch.Generator().manual_seed(1))
    b = truncated_normal((500, 8), 0.5, torch.Generator().manual_seed(1))
    assert a.abs().max() <= 0.5 and torch.equal(a, b)
    assert a.std() < 0.35  # much narrower than N(0, 1)


def test_truncation_sampler_draws_typical_samples():
    model = gan(DIGITS, *SMALL, "model.conditional=true")
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    cond = torch.full((6,), 7)
    a = model.sample(6, sampler="truncation", cond=cond, generator=g(), threshold=0.5)
    b = model.sample(6, sampler="truncation", cond=cond, generator=g(), threshold=0.5)
    wide = model.sample(6, sampler="truncation", cond=cond, generator=g(), threshold=3.0)
    assert a.data.shape == (6, 1, 8, 8) and a.cond.tolist() == [7] * 6
    assert torch.equal(a.data, b.data) and not torch.equal(a.data, wide.data)
    with pytest.raises(ConfigError, match="threshold"):
        model.sample(2, sampler="truncation", cond=cond[:2], threshold=0)


def test_conditional_samples_follow_the_label():
    model = gan(DIGITS, *SMALL, "model.conditional=true")
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    sevens = model.sample(16, cond=torch.full((16,), 7), generator=g())
    threes = model.sample(16, cond=torch.full((16,), 3), generator=g())
    assert len(sevens.data) == 16 and sevens.cond.tolist() == [7] * 16
    assert not torch.equal(sevens.data, threes.data)


@pytest.mark.parametrize("name, shape", [("dcgan", (1, 32, 32)), ("dcgan", (1, 28, 28)), ("dcgan", (1, 8, 8)),
                                         ("mlp", (1, 8, 8))])
def test_the_class_projection_starts_no_larger_than_the_realness_head(name, shape):
    # with nn.Embedding's N(0, 1) init the projection <embed(y), h> was ~185x the head's
    # output on 32x32 MNIST (~95x on digits): the critic scored one random direction per
    # class, pushing the generator toward one image per class (bench_cgan_diversity.py)
    torch.manual_seed(0)
    info = DataInfo(kind="image", shape=shape, num_classes=10)
    model = build_model(load_config(None, ["model.name=gan", "model.conditional=true",
                                           f"model.generator.name={name}",
                                           f"model.discriminator.name={name}"],
                                    check_trainer=False), info)
    d = model.discriminator
    x, y = torch.rand(64, *shape) * 2 - 1, torch.arange(64) % 10
    with torch.no_grad():
        h = d.features(x)
        head, projection = d.head(h).squeeze(1), (d.embed(y) * h).sum(1)
    assert projection.std() < 3 * head.std()
    torch.testing.assert_close(d(x, y), head + projection)


def test_mode_seeking_term_punishes_a_generator_that_ignores_z():
    torch.manual_seed(0)
    model = gan(MNIST, *SMALL, "model.conditional=true", "model.mode_seeking=1.0")
    batch = {"x": torch.rand(8, 1, 28, 28) * 2 - 1, "y": torch.arange(8) % 10}
    parts = model.losses(batch, player="generator")
    torch.testing.assert_close(parts["loss"], parts["adversarial"] + parts["mode_seeking"])
    # a generator whose last layer outputs a constant (z ignored) scores ~1e5, not ~1
    with torch.no_grad():
        model.generator.to_image[0].weight.zero_()
    assert model.losses(batch, player="generator")["mode_seeking"] > 1e4 > 10 * parts["mode_seeking"]
    assert set(gan(MNIST, *SMALL).losses(batch, player="generator")) == {"loss"}  # off by default


def test_mode_seeking_gradient_spreads_samples_of_one_label():
    torch.manual_seed(0)
    model = gan(MNIST, *SMALL, "model.conditional=true", "model.mode_seeking=1.0")
    opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    z, y = torch.randn(16, 8), torch.full((16,), 3)

    def spread():
        with torch.no_grad():
            return model.generator.eval()(z, y).std(0).mean().item()

    before = spread()
    model.generator.train()
    for _ in range(20):
        opt.zero_grad()
        z1 = torch.randn(16, 8)
        model._mode_seeking(z1, model.generator(z1, y), y).backward()
        opt.step()
    assert spread() > 1.5 * before


def test_mode_seeking_weight_must_not_be_negative():
    with pytest.raises(ConfigError, match="mode_seeking"):
        gan(DIGITS, *SMALL, "model.mode_seeking=-1")
