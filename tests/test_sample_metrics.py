"""Sample-based metrics: the Fréchet distance against closed forms, novelty, and
what evaluate says for a model without a likelihood."""

import numpy as np
import pytest
import torch

from genloom import load_config
from genloom.build import build_dataset, build_model
from genloom.data.datamodule import GenDataModule
from genloom.errors import GenloomError
from genloom_eval.metrics.frechet import Frechet, frechet_distance, frechet_from_stats
from genloom_eval.metrics.losses import TestLosses
from genloom_eval.metrics.novelty import Novelty, nearest_distances


def test_frechet_closed_forms():
    d = 5
    eye = np.eye(d)
    mu = np.arange(d, dtype=float)
    assert frechet_from_stats(mu, eye, mu, eye) == pytest.approx(0.0, abs=1e-9)
    assert frechet_from_stats(np.zeros(d), eye, mu, eye) == pytest.approx(mu @ mu)
    # diagonal covariances: sum of (sigma1 - sigma2)^2
    s1, s2 = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 2, 1, 4, 0.5])
    got = frechet_from_stats(np.zeros(d), np.diag(s1**2), np.zeros(d), np.diag(s2**2))
    assert got == pytest.approx(((s1 - s2) ** 2).sum())
    # a singular covariance (a constant feature) stays exact
    c = np.diag([1.0, 0.0, 4.0])
    assert frechet_from_stats(np.zeros(3), c, np.zeros(3), c) == pytest.approx(0.0, abs=1e-9)


def test_frechet_of_samples_tracks_the_shift():
    g = np.random.default_rng(0)
    a = g.normal(size=(20000, 3))
    b = g.normal(size=(20000, 3)) + np.array([1.0, 0, 0])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(1.0, abs=0.05)


def test_nearest_distances():
    ref = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    q = torch.tensor([[1.0, 0.0], [9.0, 0.0], [5.0, 0.0]])
    assert torch.allclose(nearest_distances(q, ref, chunk=2), torch.tensor([1.0, 1.0, 5.0]))


@pytest.fixture(scope="module")
def vae_and_data():
    cfg = load_config(None, ["model.name=vae", "data.name=toy2d", "data.n=600"], check_trainer=False)
    dataset = build_dataset(cfg)
    return build_model(cfg, dataset.info), GenDataModule(dataset, cfg.data)


def test_sample_metrics_are_seeded_and_named(vae_and_data):
    model, data = vae_and_data
    fd = Frechet()(model, data)
    assert set(fd) == {"test/frechet"} and fd["test/frechet"] > 0
    assert Frechet()(model, data) == fd  # the run's seed fixes the samples
    nov = Novelty()(model, data)
    assert set(nov) == {"test/novelty_ratio", "test/sample_to_train", "test/heldout_to_train"}
    assert nov["test/novelty_ratio"] == pytest.approx(nov["test/sample_to_train"] / nov["test/heldout_to_train"])


def test_a_model_that_copies_the_training_set_has_novelty_near_zero(vae_and_data):
    model, data = vae_and_data
    train_x = data.split("train").x

    class Copier:  # stands in for a memorising model: returns training examples
        info, conditional, run_cfg = model.info, False, model.run_cfg

        def sample(self, n, cond=None, generator=None):
            from genloom import Samples

            idx = torch.randint(0, len(train_x), (n,), generator=generator)
            return Samples(data=train_x[idx], kind="points")

    assert Novelty()(Copier(), data)["test/novelty_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert Novelty()(model, data)["test/novelty_ratio"] > 0.5


def test_losses_metric_refuses_a_model_without_losses(vae_and_data):
    model, data = vae_and_data
    original = model.validation_losses
    model.validation_losses = lambda batch: {}
    try:
        with pytest.raises(GenloomError, match="--metric frechet"):
            TestLosses()(model, data)
    finally:
        model.validation_losses = original


class _TextModel:
    """Stands in for a language model: 'samples' are whatever ``rows`` gives."""

    def __init__(self, info, rows):
        from types import SimpleNamespace

        self.info, self.rows, self.run_cfg = info, rows, SimpleNamespace(seed=0)

    def sample(self, n, generator=None, max_new_tokens=0, **options):
        from genloom import Samples

        return Samples(self.rows(n, max_new_tokens, generator), kind="tokens")


def test_copying_tells_a_reciter_from_a_babbler():
    from genloom_text.copying import Copying, copy_rates

    assert copy_rates(["abcdefghij"], ["xxabcdefghxx"], (8, 9)) == {8: 1 / 3, 9: 0.0}
    cfg = load_config(None, ["data.name=text", "data.block_size=40", "model.name=rnn"], check_trainer=False)
    data = GenDataModule(build_dataset(cfg), cfg.data)
    info = data.dataset.info
    train_ids = data.split("train").tokens
    reciter = _TextModel(info, lambda n, length, g: torch.stack(
        [train_ids[1000 * i : 1000 * i + length] for i in range(n)]))
    babbler = _TextModel(info, lambda n, length, g: torch.randint(info.vocab_size, (n, length), generator=g))
    recited, babbled = Copying()(reciter, data), Copying()(babbler, data)
    assert recited["test/copy_32"] == 1.0 > recited["test/copy_32_floor"]  # verbatim training text
    assert babbled["test/copy_16"] == 0.0 < babbled["test/copy_16_floor"]  # nothing real at all
    assert recited["test/copy_8_floor"] == babbled["test/copy_8_floor"]  # the floor is the data's
    assert 0.0 < recited["test/copy_32_floor"] < recited["test/copy_16_floor"] < recited["test/copy_8_floor"] < 1.0


def test_frechet_with_fewer_examples_than_dimensions_equals_the_covariance_formula():
    """The (n, m) route for n < d (piano rolls: 465 of 4,096 pixels) gives the (d, d) value."""
    from genloom_eval.metrics.frechet import frechet_low_rank

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 60)), rng.normal(0.3, 1.5, size=(50, 60))
    stats = [(x.mean(axis=0), np.cov(x, rowvar=False)) for x in (a, b)]
    exact = frechet_from_stats(*stats[0], *stats[1])
    assert frechet_low_rank(a, b) == pytest.approx(exact, rel=1e-6)  # the (d, d) route's eigh rounding
    assert frechet_distance(a, b) == pytest.approx(exact, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
