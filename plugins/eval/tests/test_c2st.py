"""The classifier two-sample test: chance on real against real, certain on noise, for
points, images and text, seeded, and reachable as ``genloom evaluate --metric c2st``."""

from types import SimpleNamespace

import pytest
import torch

from genloom import Samples, load_config
from genloom.build import build_dataset, build_model
from genloom.data.splits import DataSplits, all_examples
from genloom_eval.metrics.c2st import C2ST, c2st_accuracy, ngram_features


def test_points_real_vs_real_is_chance_and_a_shift_is_seen():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(500, 2, generator=g), torch.randn(500, 2, generator=g)
    assert abs(c2st_accuracy(a, b) - 0.5) < 0.08
    assert c2st_accuracy(a, b + 3.0) > 0.95
    assert c2st_accuracy(a, b, seed=3) == c2st_accuracy(a, b, seed=3)  # seeded


def test_too_few_examples_is_a_one_line_error():
    with pytest.raises(Exception, match="at least 4"):
        c2st_accuracy(torch.zeros(2, 2), torch.zeros(2, 2))


@pytest.fixture(scope="module")
def digits():
    cfg = load_config(None, ["model.name=vae", "data.name=digits"], check_trainer=False)
    dataset = build_dataset(cfg)
    return build_model(cfg, dataset.info), DataSplits(dataset, cfg.data)


class Stub:
    def __init__(self, model, pick, kind="image"):
        self.info, self.run_cfg, self.conditional, self.pick, self.kind = model.info, model.run_cfg, False, pick, kind

    def sample(self, n, cond=None, generator=None, **options):
        return Samples(data=self.pick(n, generator, options), kind=self.kind)


def test_images_noise_is_told_apart_and_heldout_data_is_not(digits):
    model, data = digits
    test = all_examples(data.split("test"))["x"]
    noise = C2ST()(Stub(model, lambda n, g, o: torch.rand((n, *test.shape[1:]), generator=g)), data)
    assert noise["test/c2st"] == 1.0 and abs(noise["test/c2st_floor"] - 0.5) < 0.12
    # a "model" whose samples are real digits (the last training ones) scores like the floor
    train = all_examples(data.split("train"))["x"]
    real = C2ST()(Stub(model, lambda n, g, o: train[-n:]), data)
    assert abs(real["test/c2st"] - 0.5) < 0.12
    assert C2ST()(model, data) == C2ST()(model, data)  # the run's seed fixes everything


def test_text_random_characters_are_told_apart_from_real_text():
    cfg = load_config(None, ["data.name=text", "data.block_size=64", "model.name=rnn"], check_trainer=False)
    data = DataSplits(build_dataset(cfg), cfg.data)
    info = data.dataset.info
    train = data.split("train").tokens
    stub = SimpleNamespace(info=info, run_cfg=SimpleNamespace(seed=0))
    stub.sample = lambda n, generator=None, max_new_tokens=0: Samples(
        torch.randint(info.vocab_size, (n, max_new_tokens), generator=generator), kind="tokens")
    data.eval_n = 200
    out = C2ST()(stub, data)
    # the floor is above 0.5 on pydoc: its test split holds other topics than its training
    # split, and a perfect model of the training text would be told apart that much
    assert out["test/c2st"] > 0.97 > out["test/c2st_floor"] > 0.5
    reciter = SimpleNamespace(info=info, run_cfg=SimpleNamespace(seed=0))
    reciter.sample = lambda n, generator=None, max_new_tokens=0: Samples(
        torch.stack([train[997 * i : 997 * i + max_new_tokens] for i in range(n)]), kind="tokens")
    assert abs(C2ST()(reciter, data)["test/c2st"] - out["test/c2st_floor"]) < 0.1  # as real as the floor
    # real against real from one distribution (shuffled training windows): chance
    windows = train[: 400 * 64].reshape(400, 64)[torch.randperm(400, generator=torch.Generator().manual_seed(0))]
    assert abs(c2st_accuracy(ngram_features(windows[:200]), ngram_features(windows[200:])) - 0.5) < 0.08


def test_ngram_features_count_each_gram_once_per_occurrence():
    f = ngram_features(torch.tensor([[1, 2, 1, 2]]), dim=64, sizes=(2,))
    assert torch.allclose(f.expm1().sum(), torch.tensor(3.0))  # 3 bigrams: (1,2) twice, (2,1)
    assert sorted(f.expm1()[f > 0].tolist()) == [1.0, 2.0]


def test_c2st_is_a_registered_metric_with_its_options():
    from genloom.plugins import get_registry
    from genloom_eval.evaluation import build_metric

    cls = get_registry().load("metric", "c2st")
    assert cls is C2ST and build_metric("c2st", cls, {"steps": 10}).steps == 10
