"""The VAE plugin: shapes, the ELBO, conditioning, sampling, training on each dataset."""

import pytest
import torch

from genloom import DataInfo, Encoder, Generator, load_config
from genloom.build import build_model
from genloom.errors import ComponentError
from genloom_devkit.testing import Case, parametrize_with_checks

DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)


def vae(info=DIGITS, *overrides):
    cfg = load_config(None, ["model.name=vae", *overrides], check_trainer=False)
    return build_model(cfg, info)


@pytest.mark.parametrize("net", ["mlp", "conv"])
@pytest.mark.parametrize("size", [8, 16])
def test_encoder_decoder_shapes(net, size):
    info = DataInfo(kind="image", shape=(3, size, size))
    model = vae(info, f"model.encoder.name={net}", f"model.decoder.name={net}", "model.latent_dim=5")
    assert isinstance(model.encoder, Encoder) and isinstance(model.decoder, Generator)
    x = torch.randn(4, 3, size, size)
    post = model.encoder.encode(x)
    assert post.mean.shape == (4, 5) and post.logvar.shape == (4, 5)
    assert model.decoder(post.rsample()).shape == x.shape


def test_conv_rejects_non_power_of_two():
    info = DataInfo(kind="image", shape=(1, 12, 12))
    with pytest.raises(ComponentError, match="power-of-two"):
        vae(info, "model.encoder.name=conv")


def test_loss_is_recon_plus_beta_kl():
    torch.manual_seed(0)
    batch = {"x": torch.randn(16, 1, 8, 8)}
    for beta in (0.0, 1.0, 4.0):
        model = vae(DIGITS, f"model.beta={beta}")
        torch.manual_seed(1)
        parts = model.losses(batch)
        assert torch.allclose(parts["loss"], parts["recon"] + beta * parts["kl"])
        assert parts["kl"] > 0


def test_training_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = vae()
    batch = {"x": torch.rand(32, 1, 8, 8) * 2 - 1}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = model.losses(batch)["loss"].item()
    for _ in range(100):
        opt.zero_grad()
        model.losses(batch)["loss"].backward()
        opt.step()
    assert model.losses(batch)["loss"].item() < 0.7 * first


def test_prior_sampling_is_seeded():
    model = vae()
    a = model.sample(6, generator=torch.Generator().manual_seed(5)).data
    b = model.sample(6, generator=torch.Generator().manual_seed(5)).data
    c = model.sample(6, generator=torch.Generator().manual_seed(6)).data
    assert a.shape == (6, 1, 8, 8) and torch.equal(a, b) and not torch.equal(a, c)


def test_conditional_vae_uses_labels():
    model = vae(DIGITS, "model.conditional=true")
    assert model.conditional
    batch = {"x": torch.randn(8, 1, 8, 8), "y": torch.arange(8)}
    assert torch.isfinite(model.losses(batch)["loss"])
    g = torch.Generator().manual_seed(0)
    sevens = model.sample(5, cond=torch.full((5,), 7), generator=g)
    assert sevens.data.shape == (5, 1, 8, 8) and sevens.cond.tolist() == [7] * 5
    g = torch.Generator().manual_seed(0)
    threes = model.sample(5, cond=torch.full((5,), 3), generator=g)
    assert not torch.equal(sevens.data, threes.data)  # the label changes the output


def test_conditional_needs_labels_and_unconditional_refuses_cond():
    with pytest.raises(ComponentError, match="class labels"):
        vae(DataInfo(kind="points", shape=(2,)), "model.conditional=true")
    with pytest.raises(Exception, match="not conditional"):
        vae().sample(2, cond=torch.zeros(2, dtype=torch.long))


def test_sampling_a_conditional_vae_without_labels_is_a_config_error():
    from genloom.errors import ConfigError

    with pytest.raises(ConfigError, match="is conditional: pass class labels"):
        vae(DIGITS, "model.conditional=true").sample(2)


@pytest.mark.parametrize("data", [["data.name=digits"], ["data.name=toy2d", "data.n=512"]])
def test_trains_through_the_core_loop(tmp_path, data):
    from genloom import train

    cfg = load_config(None, [
        "model.name=vae", *data, f"output_dir={tmp_path / 'run'}", "trainer.max_steps=20",
        "trainer.enable_progress_bar=false", "sample.n=9",
    ])
    result = train(cfg, echo=None)
    assert result.checkpoint.is_file() and result.samples.suffix == ".png"
    assert result.trainer.global_step == 20


def test_sampler_options_are_checked():
    from genloom.errors import ConfigError

    with pytest.raises(ConfigError, match="must be a number"):
        vae().sample(2, temperature="abc")
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        vae().sample(2, temprature=0.5)


def test_init_from_starts_with_the_trained_weights(tmp_path):
    from genloom import train
    from genloom.checkpoints import export, read_weights
    from genloom.errors import CheckpointError

    base = ["model.name=vae", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0"]
    first = train(load_config(None, [*base, f"output_dir={tmp_path / 'a'}", "trainer.max_steps=5"]),
                  echo=None)
    _, trained = read_weights(first.checkpoint)
    export(first.checkpoint, tmp_path / "export")
    for source in (first.checkpoint, tmp_path / "export"):
        # lr=0: the fine-tuning run keeps exactly the weights it started from
        cfg = load_config(None, [*base, f"output_dir={tmp_path / ('b' + source.name)}",
                                 "trainer.max_steps=1", "optim.lr=0", f"init_from={source}"])
        tuned = train(cfg, echo=None).model.state_dict()
        assert all(torch.equal(tuned[k], trained[k]) for k in trained)
    with pytest.raises(CheckpointError, match="does not fit"):
        train(load_config(None, [*base, f"output_dir={tmp_path / 'c'}", "model.latent_dim=3",
                                 f"init_from={first.checkpoint}"]), echo=None)


@parametrize_with_checks([
    Case("vae", DIGITS, id="vae-mlp"),
    Case("vae", DIGITS, ["model.encoder.name=conv", "model.decoder.name=conv"], id="vae-conv"),
    Case("vae", DIGITS, ["model.conditional=true"], id="vae-conditional"),
    Case("vae", "points", id="vae-points"),
])
def test_vae_conformance(case, check):
    check(case)


def test_importance_weighted_bound_is_the_elbo_at_k_1_and_tightens_with_k():
    import math

    torch.manual_seed(0)
    model = vae(DIGITS, "model.latent_dim=4").eval()
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    batch = {"x": x}

    def nll(k, repeats):
        with torch.no_grad():
            return torch.stack([-(torch.logsumexp(model.importance_log_weights(batch, k), 0) - math.log(k))
                                for _ in range(repeats)]).mean(0)

    with torch.no_grad():
        elbo = torch.stack([model.losses(batch)["loss"] for _ in range(400)]).mean()
    k1, k64 = nll(1, 400), nll(64, 20)
    assert float(k1.mean()) == pytest.approx(float(elbo), rel=2e-3)  # the same bound, another estimator
    assert bool((k64 < k1).all())  # every example's bound is tighter
    assert model.importance_log_weights(batch, 5).shape == (5, 16)


def test_evaluate_reports_the_iwae_nll_with_its_k(tmp_path):
    import json

    from genloom import train
    from genloom_devkit.testing.helpers import run_cli

    run = tmp_path / "run"
    train(load_config(None, ["model.name=vae", "model.latent_dim=4", f"output_dir={run}", "trainer.max_steps=5",
                             "trainer.enable_progress_bar=false", "sample.n=0"]), echo=None)
    result = run_cli("evaluate", str(run), "--metric", "losses", "--metric", "nll", "--set", "nll.k=8", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["test/nll_k"] == 8 and out["test/nll"] < out["test/loss"]  # tighter than the ELBO
    bad = run_cli("evaluate", str(run), "--metric", "nll", "--set", "nll.kk=8")
    assert bad.returncode == 2 and "options: k" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
