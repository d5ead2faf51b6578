"""Outputs: the synthesiser's WAV, MIDI files, piano-roll pictures, and the two sample
kinds writing every suffix they name."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import torch
from PIL import Image

from genloom import DataInfo, GenloomError, Samples
from genloom_music.kinds import AbcKind, PianoRollKind
from genloom_music.notes import Note
from genloom_music.synth import SAMPLE_RATE, synthesize, write_wav
from genloom_music.tokenizer import AbcTokenizer

TUNE = "M:4/4 L:1/8 K:G |: G2 B d g2 f e | d2 B G A4 :|"


def test_the_synthesiser_writes_a_wav_of_the_right_length_and_rate(tmp_path):
    notes = [Note(0, 1, 67), Note(1, 1, 71), Note(0, 2, 43, voice=1)]  # two beats
    path = tmp_path / "a.wav"
    write_wav(notes, path, tempo=120)  # two beats at 120/min: one second, plus the release
    with wave.open(str(path)) as f:
        assert f.getframerate() == SAMPLE_RATE and f.getnchannels() == 1 and f.getsampwidth() == 2
        assert f.getnframes() == int(np.ceil(1.15 * SAMPLE_RATE))
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert np.abs(pcm).max() / 32767 == pytest.approx(0.8, abs=1e-4)
    mix = synthesize([Note(0, 4, 69)], tempo=60)
    spectrum = np.abs(np.fft.rfft(mix[: SAMPLE_RATE]))
    assert np.argmax(spectrum) == 440  # one second of A4: the peak is at 440 Hz


@pytest.fixture
def abc_samples():
    tok = AbcTokenizer.fit(TUNE + "\nA ||")
    info = DataInfo(kind="abc", shape=(65,), vocab_size=tok.vocab_size, tokenizer=tok.state())
    rows = [tok.encode("\n" + TUNE + "\n"), tok.encode("\nK:G G A B ||\n")]
    ids = torch.tensor([rows[0], rows[1] + [0] * (len(rows[0]) - len(rows[1]))])  # padded
    return Samples(ids, kind="tokens", extras={"lengths": torch.tensor([len(r) for r in rows])}), info


def test_abc_samples_are_written_as_abc_midi_wav_png_and_text(abc_samples, tmp_path):
    samples, info = abc_samples
    kind = AbcKind()
    kind.write(samples, tmp_path / "t.abc", info)
    text = (tmp_path / "t.abc").read_text()
    assert text.startswith("X:1\nT:genloom 1\nM:4/4\nL:1/8\nK:G\n|: G2 B d g2 f e | d2 B G A4 :|\n")
    assert "X:2" in text and "% invalid: does not start with M:, L:, K:" in text
    for suffix in (".wav", ".png", ".txt"):
        kind.write(samples, tmp_path / f"t{suffix}", info)
    assert Image.open(tmp_path / "t.png").size[0] > 100
    assert (tmp_path / "t.txt").read_text().startswith("\nM:4/4 L:1/8 K:G |: G2 B d")
    with pytest.raises(GenloomError, match="use .abc, .mid, .wav, .png, .txt or .npy"):
        kind.write(samples, tmp_path / "t.jpg", info)


def test_both_kinds_write_midi_that_reads_back(abc_samples, tmp_path):
    pytest.importorskip("music21")
    from genloom_music.midi import midi_to_notes

    samples, info = abc_samples
    AbcKind().write(samples, tmp_path / "t.mid", info)
    notes = midi_to_notes((tmp_path / "t.mid").read_bytes())
    assert [n.pitch for n in notes[:4]] == [67, 71, 74, 79] and notes[0].duration == 1.0
    roll = -torch.ones(2, 4, 32, 32)
    roll[:, 0, :, 5] = 1  # soprano holds BASES[0] + 5 = C5 for two bars
    PianoRollKind().write(Samples(roll, kind="pianoroll"), tmp_path / "r.mid", None)
    back = midi_to_notes((tmp_path / "r.mid").read_bytes())
    assert [(n.onset, n.duration, n.pitch) for n in back] == [(0.0, 8.0, 60), (10.0, 8.0, 60)]
    for suffix in (".png", ".wav", ".npy"):
        PianoRollKind().write(Samples(roll, kind="pianoroll"), tmp_path / f"r{suffix}", None)
    assert np.load(tmp_path / "r.npy").shape == (2, 4, 32, 32)
