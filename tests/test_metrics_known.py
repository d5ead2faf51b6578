"""Floored metrics on sets whose answers are known: identical sets, shifted Gaussians,
a sampler that returns held-out data (value = floor), one that copies the training set,
one that draws a single class, and a classifier-perfect conditional sampler."""

import math

import numpy as np
import pytest
import torch

from genloom import Samples, load_config
from genloom.build import build_dataset, build_model
from genloom.data.splits import DataSplits
from genloom_eval.metrics import distances
from genloom_eval.metrics.classes import ClassBalance, ConditionalAccuracy, class_kl
from genloom_eval.metrics.classifier import load_classifier
from genloom_eval.metrics.comparison import comparison
from genloom_eval.metrics.fid import FID, KID
from genloom_eval.metrics.frechet import frechet_distance
from genloom_eval.metrics.manifold import PRDC, prdc
from genloom_eval.metrics.novelty import Novelty


class Stub:
    """Stands in for a model: ``pick(n, cond, generator)`` returns its samples."""

    def __init__(self, model, pick, conditional=False):
        self.info, self.run_cfg, self.conditional, self.pick = model.info, model.run_cfg, conditional, pick

    def sample(self, n, cond=None, generator=None):
        return Samples(data=self.pick(n, cond, generator), kind="image")


@pytest.fixture(scope="module")
def digits():
    cfg = load_config(None, ["model.name=vae", "data.name=digits", "model.conditional=true"],
                      check_trainer=False)
    dataset = build_dataset(cfg)
    return build_model(cfg, dataset.info), DataSplits(dataset, cfg.data)


def test_prdc_identical_and_disjoint_sets():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 4, generator=g)
    same = prdc(a, a, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = prdc(a, a + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    # samples on half the data: realistic (precision 1) but about half the variety covered
    half = prdc(a, a[a[:, 0] > 0], k=5)
    assert half["precision"] == 1.0 and half["recall"] < 0.9 and 0.4 < half["coverage"] < 0.7


def test_toy_distances_identical_and_shifted():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    b = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    assert distances.mmd_rbf(a[:600], a[:600], 1.0) == pytest.approx(0.0, abs=1e-12)
    assert distances.energy_distance(a[:600], a[:600]) == pytest.approx(0.0, abs=1e-12)
    assert distances.sliced_wasserstein(a, a) == pytest.approx(0.0, abs=1e-12)
    shift = torch.tensor([2.0, 0.0], dtype=torch.float64)
    # W2 of N(0,1) and N(d cos t, 1) is |d cos t|; its root mean square over directions is d/sqrt(2)
    assert distances.sliced_wasserstein(a, b + shift) == pytest.approx(2 / math.sqrt(2), rel=0.05)
    assert distances.sliced_wasserstein(a, b) < 0.1
    a, b = a[:600], b[:600]  # pairwise matrices: keep them small
    assert distances.mmd_rbf(a, b + shift, 1.0) > 20 * distances.mmd_rbf(a, b, 1.0)
    # energy distance: ~0 for two draws of one Gaussian, far above that for shifted ones
    assert distances.energy_distance(a, b) < 0.02 < 0.5 < distances.energy_distance(a, b + shift)


def test_class_kl():
    uniform = torch.arange(1000) % 10
    assert class_kl(uniform, uniform, 10) == pytest.approx(0.0, abs=1e-3)
    threes = torch.full((1000,), 3)
    assert class_kl(uniform, threes, 10) > 2.0


def test_a_sampler_of_heldout_data_scores_its_floor(digits):
    model, data = digits
    heldout = comparison(model, data).heldout  # the stub is a new model: its own comparison
    stub = Stub(model, lambda n, cond, g: heldout[:n])
    for metric in (FID(), KID(), PRDC(), ClassBalance()):
        out = metric(stub, data)
        for key in [k for k in out if k.endswith("_floor")]:
            assert out[key[: -len("_floor")]] == pytest.approx(out[key], abs=1e-9), key
    assert FID()(stub, data)["test/fid_floor"] > 0  # 180 held-out images are not the training set


def test_fid_agrees_with_the_frechet_distance_of_the_shipped_features(digits):
    model, data = digits
    cmp = comparison(model, data)
    net = load_classifier("digits")
    with torch.no_grad():
        train, fake = net.features(cmp.train).numpy(), net.features(cmp.samples).numpy()
    ours = frechet_distance(fake.astype(np.float64), train.astype(np.float64))
    assert FID()(model, data)["test/fid"] == pytest.approx(ours, rel=1e-3)


def test_kid_agrees_with_the_unbiased_polynomial_mmd(digits, monkeypatch):
    model, data = digits
    cmp = comparison(model, data)
    n = cmp.n
    net = load_classifier("digits")
    with torch.no_grad():
        x, y = net.features(cmp.train[:n]).double(), net.features(cmp.samples).double()
    d = x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    def off_diagonal_mean(m):
        return (m.sum() - m.diagonal().sum()) / (n * (n - 1))

    expected = float(off_diagonal_mean(k(x, x)) + off_diagonal_mean(k(y, y)) - 2 * k(x, y).mean())
    # with the training set cut to n images, every subset is the whole set: KID is exact
    truncated = type(cmp)(cmp.train[:n], None, cmp.heldout, None, cmp.samples, None)
    monkeypatch.setattr("genloom_eval.metrics.fid.comparison", lambda m, dm: truncated)
    assert KID()(model, data)["test/kid"] == pytest.approx(expected, rel=1e-3)


def test_untrained_model_is_far_from_its_floors(digits):
    model, data = digits
    fid = FID()(model, data)
    assert fid["test/fid"] > 10 * fid["test/fid_floor"]
    pr = PRDC()(model, data)
    assert pr["test/precision"] < pr["test/precision_floor"]


def test_copying_the_training_set_has_novelty_zero(digits):
    model, data = digits
    train = data.split("train").x
    stub = Stub(model, lambda n, cond, g: train[torch.randint(0, len(train), (n,), generator=g)])
    assert Novelty()(stub, data)["test/novelty_ratio"] == pytest.approx(0.0, abs=1e-12)


def test_a_single_class_sampler_shows_in_the_class_balance(digits):
    model, data = digits
    net = load_classifier("digits")
    train = data.split("train").x
    with torch.no_grad():
        sevens = train[net(train).argmax(1) == 7]
    stub = Stub(model, lambda n, cond, g: sevens[torch.arange(n) % len(sevens)])
    out = ClassBalance()(stub, data)
    assert out["test/class_share_7"] == 1.0 and out["test/class_min_share"] == 0.0
    assert out["test/class_kl"] > 1.5 > 0.05 > out["test/class_kl_floor"]
    assert 0.05 < out["test/class_min_share_floor"] <= out["test/class_max_share_floor"] < 0.2


def test_a_classifier_perfect_conditional_sampler_scores_accuracy_one(digits):
    model, data = digits
    net = load_classifier("digits")
    train = data.split("train").x
    with torch.no_grad():
        predicted = net(train).argmax(1)
    by_class = [train[predicted == c] for c in range(10)]
    stub = Stub(model, lambda n, cond, g: torch.stack([by_class[int(c)][0] for c in cond]), conditional=True)
    out = ConditionalAccuracy()(stub, data)
    assert out["test/cond_accuracy"] == 1.0
    assert 0.9 < out["test/cond_accuracy_floor"] <= 1.0
    wrong = Stub(model, lambda n, cond, g: torch.stack([by_class[(int(c) + 1) % 10][0] for c in cond]),
                 conditional=True)
    assert ConditionalAccuracy()(wrong, data)["test/cond_accuracy"] == 0.0


def test_classification_accuracy_score_needs_right_and_varied_samples(digits):
    from genloom_eval.metrics.classes import ClassificationAccuracyScore

    model, data = digits
    test = data.split("test")
    x, y = test.x, test.y
    by_class = [x[y == c] for c in range(10)]

    def of_class(shift, vary=True):
        return lambda n, cond, g: torch.stack(
            [by_class[(int(c) + shift) % 10][i % len(by_class[(int(c) + shift) % 10]) if vary else 0]
             for i, c in enumerate(cond)])

    right = ClassificationAccuracyScore()(Stub(model, of_class(0), conditional=True), data)
    assert right["test/cas"] > 0.8 and abs(right["test/cas"] - right["test/cas_floor"]) < 0.1
    mislabelled = ClassificationAccuracyScore()(Stub(model, of_class(1), conditional=True), data)
    assert mislabelled["test/cas"] < 0.1  # right images, wrong labels: it learns the wrong map
    one_each = ClassificationAccuracyScore()(Stub(model, of_class(0, vary=False), conditional=True), data)
    assert one_each["test/cas"] < right["test/cas"]  # one image per class: right but not varied


def test_evaluation_samples_with_the_runs_sampler_and_options(digits):
    """What a recipe's sample section names (a few-step sampler) is what evaluation draws with."""
    from omegaconf import OmegaConf

    from genloom_eval.metrics.heldout import heldout_and_samples

    model, data = digits
    calls = []

    class Recording(Stub):
        def sample(self, n, cond=None, generator=None, **kwargs):
            calls.append(kwargs)
            return super().sample(n, cond, generator)

    cfg = OmegaConf.merge(model.run_cfg, {"sample": {"sampler": "diffusion:dpmpp_2m",
                                                    "options": {"steps": 15, "karras": True}}})
    stub = Recording(model, lambda n, cond, g: torch.rand(n, *model.info.shape, generator=g))
    stub.run_cfg = cfg
    comparison(stub, data)
    heldout_and_samples(stub, data)  # novelty's pair: the same samples, not a second draw
    assert calls == [{"sampler": "diffusion:dpmpp_2m", "steps": 15, "karras": True}]
    FID()(stub, data), Novelty()(stub, data)
    assert len(calls) == 1  # one evaluation samples the model once
