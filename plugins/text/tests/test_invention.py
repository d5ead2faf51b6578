"""The invention metric: 0 for a model that recites its training text, near 1 for
random characters, and the held-out floor in between; what counts as each unit."""

from types import SimpleNamespace

import pytest
import torch

from genloom import Samples, load_config
from genloom.build import build_dataset
from genloom.data.splits import DataSplits
from genloom_text.invention import Invention, headings, identifiers, invention_rates, words


def test_units_skip_what_a_window_cuts():
    assert words("xab the cat sat on a mat ends") == ["the", "cat", "sat", "mat"]  # cut ends, short words
    assert identifiers("x call foo_bar and os.path then len(x) y") == ["foo_bar", "path", "len"]
    assert headings("x\nThe assert statement\n*********\nbody") == ["The assert statement"]


def test_rates_count_occurrences_absent_from_training():
    rates = invention_rates([" cat dog zyx zyx "], ["a cat and a dog"])
    assert rates == {"words": 0.5}  # zyx twice of four words; no identifiers or headings


@pytest.fixture(scope="module")
def text_data():
    cfg = load_config(None, ["data.name=text", "data.block_size=128", "model.name=rnn"], check_trainer=False)
    return DataSplits(build_dataset(cfg), cfg.data)


def _model(info, rows):
    model = SimpleNamespace(info=info, run_cfg=SimpleNamespace(seed=0))
    model.sample = lambda n, generator=None, max_new_tokens=0: Samples(rows(n, max_new_tokens, generator), kind="tokens")
    return model


def test_a_reciter_invents_nothing_and_random_characters_invent_nearly_everything(text_data):
    info = text_data.dataset.info
    train = text_data.split("train").tokens
    reciter = _model(info, lambda n, length, g: torch.stack([train[997 * i : 997 * i + length] for i in range(n)]))
    babbler = _model(info, lambda n, length, g: torch.randint(info.vocab_size, (n, length), generator=g))
    recited, babbled = Invention()(reciter, text_data), Invention()(babbler, text_data)
    assert recited["test/invented_words"] == 0.0 and recited["test/invented_identifiers"] == 0.0
    assert babbled["test/invented_words"] > 0.9
    # held-out pydoc text names a few things the training text never does: a small floor
    assert 0.0 < recited["test/invented_words_floor"] < 0.1
    assert recited["test/invented_words_floor"] == babbled["test/invented_words_floor"]


def test_invention_is_a_registered_metric():
    from genloom.plugins import get_registry

    assert get_registry().load("metric", "invention") is Invention
