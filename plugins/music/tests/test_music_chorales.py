"""The chorales: the shipped array matches a fresh parse, piano rolls round-trip through
MIDI, and the dataset's windows, labels and splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genloom_music.chorales import (
    BASES,
    Chorales,
    load_chorales,
    notes_to_voices,
    roll_to_voices,
    voices_to_notes,
    voices_to_roll,
)


@pytest.fixture(scope="module")
def shipped():
    return load_chorales()


@pytest.mark.parametrize("index", [0, 200])
def test_the_shipped_array_is_what_parsing_the_corpus_gives(shipped, index):
    pytest.importorskip("music21")
    from genloom_music.chorale_parse import chorale_files, parse_chorale

    name = shipped.names[index]
    (path,) = [p for p in chorale_files() if p.name == name]
    parsed = parse_chorale(path)
    assert np.array_equal(parsed.pitches, shipped.voices[index])
    assert int(shipped.modes[index]) == (parsed.mode == "minor")


def test_a_chorale_round_trips_roll_to_midi_and_back(shipped):
    pytest.importorskip("music21")
    from genloom_music.midi import midi_to_notes, notes_to_midi

    voices = shipped.voices[3][:, :64].astype(np.int64)
    roll = voices_to_roll(voices)
    assert roll is not None and roll.shape == (4, 64, 32) and set(np.unique(roll)) == {-1.0, 1.0}
    assert np.array_equal(roll_to_voices(roll), voices)
    notes = voices_to_notes(voices)
    assert {n.voice for n in notes} == {0, 1, 2, 3}
    back = midi_to_notes(notes_to_midi(notes))
    assert sorted(back, key=lambda n: (n.voice, n.onset)) == sorted(notes, key=lambda n: (n.voice, n.onset))
    assert np.array_equal(voices_to_roll(notes_to_voices(back, 64)), roll)


def test_rolls_out_of_a_voice_window_are_refused_and_silence_is_a_rest():
    voices = np.zeros((4, 8), dtype=np.int64)
    voices[0, :4] = BASES[0] + 31
    assert voices_to_roll(voices) is not None
    voices[3, 0] = BASES[3] - 1
    assert voices_to_roll(voices) is None
    noisy = np.full((4, 8, 32), -0.5, dtype=np.float32)
    noisy[1, 2, 5] = 0.3
    out = roll_to_voices(noisy)
    assert out[1, 2] == BASES[1] + 5 and (out.sum() == out[1, 2])


def test_windows_labels_and_splits_by_chorale(shipped):
    data = Chorales(OmegaConf.create({"hop": 16}))
    assert data.info.kind == "pianoroll" and data.info.shape == (4, 32, 32)
    assert data.info.class_names == ["major", "minor"]
    splits = data.splits(0.1, 0.1, 0)
    owners = {k: set(v.chorale.tolist()) for k, v in splits.items()}
    assert not owners["train"] & owners["test"] and not owners["train"] & owners["val"]
    assert len(owners["train"]) + len(owners["val"]) + len(owners["test"]) == len(shipped.voices)
    batch = splits["train"].__getitems__([0, 1, 2])
    assert batch["x"].shape == (3, 4, 32, 32) and batch["y"].dtype == torch.long
    assert torch.equal((batch["x"] > 0).sum(dim=3).amax(), torch.tensor(1))  # one pitch per voice
    again = Chorales(OmegaConf.create({"hop": 16})).splits(0.1, 0.1, 0)
    assert torch.equal(again["test"].x, splits["test"].x)
    assert set(splits["train"].y.tolist()) == {0, 1}
