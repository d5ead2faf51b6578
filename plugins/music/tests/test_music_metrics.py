"""Each music metric on cases whose answer is known, and the metric components on a
model that copies training tunes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genloom import ConfigError, Samples
from genloom_music.abc import join_tokens
from genloom_music.folk import Folk
from genloom_music.kinds import C_MAJOR, Piece, abc_piece
from genloom_music.metrics import (
    Music,
    TuneNovelty,
    ValidAbc,
    interval_histogram,
    key_consistency,
    longest_shared_runs,
    meter_consistency,
    midi_round_trips,
    novelty,
    pitch_class_histogram,
    total_variation,
)
from genloom_music.notes import Note


def tune(line: str) -> Piece:
    return abc_piece(line.split())


def test_longest_shared_runs_are_exact():
    reference = [[9, 2, 3, 7], [3, 4, 5], [1]]
    assert longest_shared_runs([[1, 2, 3, 4], [8, 8], [3, 4, 5, 6], [7, 9]], reference) == [2, 0, 3, 1]
    assert longest_shared_runs([[2, 3]], [[2], [3]]) == [1]  # runs never span two pieces


def test_novelty_is_zero_for_copies_and_counts_the_unshared_rest():
    train = [tune("M:4/4 L:1/8 K:C C D E F G A B c |"), tune("M:4/4 L:1/8 K:C c B A G F E D C |")]
    assert novelty(train, train) == 0.0
    half = tune("M:4/4 L:1/8 K:C C D E F E D C D |")  # shares C D E F (4 of 8 notes)
    assert novelty([half], train) == pytest.approx(0.5)


def test_histogram_distances():
    scale = tune("M:4/4 L:1/8 K:C C D E F G A B c |")
    assert total_variation(pitch_class_histogram([scale]), pitch_class_histogram([scale])) == 0
    other = tune("M:4/4 L:1/8 K:C ^C ^D ^F ^G ^A ^c ^d ^f |")
    assert total_variation(pitch_class_histogram([scale]), pitch_class_histogram([other])) == 1
    steps = interval_histogram([scale])
    assert steps[12 + 2] == pytest.approx(5 / 7) and steps[12 + 1] == pytest.approx(2 / 7)


def test_key_and_meter_consistency():
    assert key_consistency(tune("M:4/4 L:1/8 K:G G A B c d e ^f g |")) == 1.0
    assert key_consistency(tune("M:4/4 L:1/8 K:G G A B c d e =f g |")) == pytest.approx(7 / 8)
    full = tune("M:3/4 L:1/8 K:D A | d2 e2 f2 | g2 f2 e2 | d4 |")
    assert meter_consistency(full) == 1.0
    ragged = tune("M:3/4 L:1/8 K:D A | d2 e2 | g2 f2 e2 | d4 |")
    assert meter_consistency(ragged) == 0.5
    chord = Piece([Note(0, 1, 60, 0), Note(0, 1, 61, 1)], [], C_MAJOR)
    assert key_consistency(chord) == 0.5


def test_valid_midi_needs_notes_that_read_back():
    pytest.importorskip("music21")
    assert midi_round_trips(tune("M:4/4 L:1/8 K:C C D E F |"))
    assert not midi_round_trips(tune("M:4/4 L:1/8 K:C z8 |"))


class CopyingModel:
    """Duck-typed model whose samples are the first training tunes, word for word."""

    default_sampler = "multinomial"
    conditional = False

    def __init__(self, data):
        self.info, self.data = data.info, data
        self.run_cfg = OmegaConf.create({"seed": 0})

    def parameters(self):
        return iter(())

    def sample(self, n, cond=None, generator=None, **options):
        assert options == {"stop": "\n", "max_new_tokens": 600}
        tok = self.data.tokenizer
        rows = [tok.encode("\n" + join_tokens(t) + "\n") for t in self.data.tunes("train")[:n]]
        width = max(map(len, rows))
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        return Samples(ids, kind="tokens", extras={"lengths": torch.tensor([len(r) for r in rows])})


@pytest.fixture(scope="module")
def folk_module():
    data = Folk(OmegaConf.create({"collections": ["oneills"], "block_size": 64}))
    splits = data.splits(0.02, 0.02, 0)  # 37 held-out tunes: fewer samples to measure
    return SimpleNamespace(dataset=data, split=splits.__getitem__)  # as GenDataModule.split


def test_a_model_that_copies_tunes_scores_novelty_zero_and_full_validity(folk_module):
    model = CopyingModel(folk_module.dataset)
    out = TuneNovelty()(model, folk_module)
    assert out["test/tune_novelty"] == 0.0
    assert 0.3 < out["test/tune_novelty_floor"] < 1  # held-out tunes share phrases, not tunes
    assert ValidAbc()(model, folk_module) == {"test/valid_abc": 1.0, "test/valid_abc_floor": 1.0}


def test_music_reports_every_measure_with_its_floor_and_refuses_other_kinds(folk_module):
    pytest.importorskip("music21")
    out = Music()(CopyingModel(folk_module.dataset), folk_module)
    names = ["valid_abc", "valid_midi", "pitch_class_distance", "interval_distance",
             "key_consistency", "meter_consistency", "tune_novelty"]
    assert sorted(out) == sorted([f"test/{n}" for n in names] + [f"test/{n}_floor" for n in names])
    assert out["test/pitch_class_distance"] < 0.1 and out["test/key_consistency"] > 0.9
    digits = SimpleNamespace(info=SimpleNamespace(kind="image"))
    with pytest.raises(ConfigError, match="measures abc or pianoroll samples, not 'image'"):
        Music()(digits, folk_module)
    assert np.isfinite(list(out.values())).all()
