"""The VAE's fitted mixture prior (``model.prior=gmm``): the EM fit, the bank of
posterior means, sampling through it, and the config checks."""

import pytest
import torch

from genloom import DataInfo, load_config
from genloom.build import build_model
from genloom.errors import ConfigError
from genloom_devkit.testing import Case, parametrize_with_checks
from genloom_vae.prior import MixturePrior, MixtureSampler, fit_mixture

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)


def vae(*overrides, info=DIGITS):
    cfg = load_config(None, ["model.name=vae", "model.latent_dim=2", *overrides], check_trainer=False)
    return build_model(cfg, info)


def two_clusters(n=600, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n // 3, 2, generator=g) * 0.1 + torch.tensor([4.0, 0.0])
    b = torch.randn(n - n // 3, 2, generator=g) * 0.3 + torch.tensor([-4.0, 2.0])
    return torch.cat([a, b])


def test_em_recovers_two_clusters():
    means, var, weights = fit_mixture(two_clusters(), 2, 30, torch.Generator().manual_seed(0))
    order = means[:, 0].argsort(descending=True)
    means, var, weights = means[order], var[order], weights[order]
    assert torch.allclose(means, torch.tensor([[4.0, 0.0], [-4.0, 2.0]]), atol=0.1)
    assert torch.allclose(var.sqrt(), torch.tensor([[0.1, 0.1], [0.3, 0.3]]), atol=0.05)
    assert torch.allclose(weights, torch.tensor([1 / 3, 2 / 3]), atol=0.01)


def test_em_fit_is_seeded_and_capped_at_the_number_of_points():
    z = two_clusters()
    first = fit_mixture(z, 7, 5, torch.Generator().manual_seed(3))
    again = fit_mixture(z, 7, 5, torch.Generator().manual_seed(3))
    other = fit_mixture(z, 7, 5, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])  # the seed picks the starting means
    means, var, weights = fit_mixture(z[:3], 10, 5, torch.Generator().manual_seed(0))
    assert means.shape == (3, 2) and var.shape == (3, 2) and weights.shape == (3,)
    assert bool((var > 0).all()) and float(weights.sum()) == pytest.approx(1.0)


def test_bank_is_a_ring_buffer_and_the_fit_follows_it():
    prior = MixturePrior(latent_dim=2, components=2, bank=8, iters=3)
    prior.fit_if_stale()
    assert int(prior.fits) == 0 and torch.equal(prior.mixture.variances, torch.ones(2, 2))  # N(0, I)
    prior.observe(torch.ones(5, 2))
    assert int(prior.filled) == 5 and prior.stale()
    prior.observe(torch.full((5, 2), 2.0))  # wraps: rows 5-7 and 0-1
    assert int(prior.filled) == 8 and int(prior.cursor) == 2
    assert prior.bank[:2].eq(2).all() and prior.bank[2:5].eq(1).all() and prior.bank[5:].eq(2).all()
    prior.fit_if_stale()
    assert int(prior.fits) == 1 and not prior.stale()
    assert sorted(prior.mixture.means[:, 0].tolist()) == pytest.approx([1.0, 2.0], abs=1e-3)
    prior.fit_if_stale()
    assert int(prior.fits) == 1  # nothing new observed: no refit


def test_the_fit_is_deterministic_for_a_seed():
    def fitted(seed):
        prior = MixturePrior(latent_dim=2, components=4, bank=600, iters=10, seed=seed)
        prior.observe(two_clusters())
        prior.fit_if_stale()
        return prior.mixture.state_dict()

    a, b, c = fitted(0), fitted(0), fitted(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_mixture_sampler_draws_components_by_weight():
    prior = MixturePrior(latent_dim=2, components=2, bank=4, iters=1)
    prior.mixture.means.copy_(torch.tensor([[10.0, 0.0], [-10.0, 0.0]]))
    prior.mixture.variances.fill_(0.01)
    prior.mixture.weights.copy_(torch.tensor([0.8, 0.2]))
    z = MixtureSampler().sample(prior, 2000, generator=torch.Generator().manual_seed(0)).data
    assert z.shape == (2000, 2)
    assert float((z[:, 0] > 0).float().mean()) == pytest.approx(0.8, abs=0.03)
    cold = MixtureSampler().sample(prior, 50, generator=torch.Generator().manual_seed(0), temperature=0.0)
    assert set(cold.data[:, 0].tolist()) <= {10.0, -10.0}  # temperature 0: the components' means


def test_gmm_vae_samples_decode_the_fitted_mixture():
    model = vae("model.prior=gmm", "model.prior_components=3").eval()
    assert model.default_sampler == "latent_prior"
    model.prior.mixture.means.copy_(torch.tensor([[5.0, 5.0], [-5.0, 5.0], [0.0, -5.0]]))
    model.prior.mixture.variances.fill_(1e-4)
    out = model.sample(6, generator=torch.Generator().manual_seed(1))
    z = out.extras["latents"]
    assert out.data.shape == (6, 1, 8, 8) and z.shape == (6, 2)
    assert bool((z.abs().max(dim=1).values > 4.9).all())  # from the mixture, not N(0, I)
    with torch.no_grad():
        assert torch.allclose(out.data, model.decoder(z))
    again = model.sample(6, generator=torch.Generator().manual_seed(1)).data
    assert torch.equal(out.data, again)
    normal = model.sample(6, sampler="prior", generator=torch.Generator().manual_seed(1)).data
    assert not torch.allclose(out.data, normal)  # the N(0, I) prior is still there by name


def test_the_bank_fills_in_training_only():
    model = vae("model.prior=gmm", "model.prior_bank=16")
    batch = {"x": torch.randn(4, 1, 8, 8)}
    model.eval()
    model.losses(batch)
    assert int(model.prior.filled) == 0
    model.train()
    model.losses(batch)
    assert int(model.prior.filled) == 4
    assert torch.allclose(model.prior.bank[:4], model.encoder.encode(batch["x"]).mean, atol=1e-6)


def test_training_fills_the_bank_and_sampling_fits_it_as_the_checkpoint_does(tmp_path):
    from genloom import load, train

    cfg = load_config(None, [
        "model.name=vae", "model.latent_dim=2", "model.prior=gmm", "model.prior_bank=64",
        "model.prior_components=4", "data.name=digits", "data.batch_size=32", f"output_dir={tmp_path / 'run'}",
        "trainer.max_steps=5", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
    ])
    result = train(cfg, echo=None)
    model = result.model.cpu()
    assert int(model.prior.filled) == 64 and model.prior.stale()  # 160 means seen, the last 64 kept
    loaded = load(result.checkpoint)
    assert torch.equal(loaded.prior.bank, model.prior.bank)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    samples = model.sample(5, generator=g()).data
    assert int(model.prior.fits) == 1 and not torch.equal(model.prior.mixture.means, torch.zeros(4, 2))
    assert torch.equal(loaded.sample(5, generator=g()).data, samples)


@pytest.mark.parametrize("overrides, message", [
    (["model.prior=gauss"], "model.prior: unknown prior 'gauss'; choose one of normal, gmm"),
    (["model.prior=gmm", "model.conditional=true"], "does not work with model.conditional=true"),
    (["model.prior=gmm", "model.prior_components=0"], "model.prior_components: must be at least 1"),
    (["model.prior=gmm", "model.prior_bank=0"], "model.prior_bank: must be at least 1"),
    (["model.prior=gmm", "model.prior_iters=0"], "model.prior_iters: must be at least 1"),
])
def test_bad_prior_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(Exception) as info:
        vae(*overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


@parametrize_with_checks([
    Case("vae", DIGITS, ["model.prior=gmm", "model.prior_bank=16", "model.prior_components=3"], id="vae-gmm"),
])
def test_gmm_vae_conformance(case, check):
    check(case)
