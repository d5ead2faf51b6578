"""ABC cleaning, the abc tokenizer and reading tunes: round trips, exact notes, and
agreement with music21's own ABC parser."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from omegaconf import OmegaConf

from genloom import GenloomError
from genloom_music.abc import Dropped, clean_tune, join_tokens, key_scale, split_tunes
from genloom_music.folk import Folk
from genloom_music.tokenizer import AbcTokenizer
from genloom_music.tune import abc_text, read_tune

RAW = """X: 7
T: A made-up reel
R: reel
M: C|
K: Ador
%%comment
|:"Am"~A2 {g}EA cA (3Bcd | e/f/g (AB) c2-c>B :|1 A,4 z2 x2 :|2 ^c'4 [| =f//g//a3/ |]
"""


@pytest.fixture(scope="module")
def folk():
    data = Folk(OmegaConf.create({"collections": ["oneills"], "block_size": 64}))
    data.splits(0.1, 0.1, 0)
    return data


def test_cleaning_keeps_the_melody_and_normalises_its_spelling():
    (fields, body), = split_tunes(RAW)
    tokens = clean_tune(fields, body)
    assert join_tokens(tokens) == (
        "M:2/2 L:1/8 K:Ador |: A2 E A c A (3 B c d | e/2 f/2 g A B c2 - c > B :| [1 A,4 z2 z2 "
        ":| [2 ^c'4 || =f/4 g/4 a3/2 |]"
    )


@pytest.mark.parametrize("body, why", [
    ("[CEG]2 c2 |", "chords"), ("[K:D] A2 |", "inline field"), ("(5ABCDE |", "tuplet"),
    ("A2 Z2 |", "unsupported"),
])
def test_cleaning_drops_what_it_cannot_keep_exactly(body, why):
    with pytest.raises(Dropped, match=why):
        clean_tune({"M": "4/4", "K": "C"}, [body])


def test_the_tokenizer_round_trips_every_training_tune(folk):
    tok = folk.tokenizer
    tunes = folk.tunes("train")
    assert len(tunes) > 1400
    for tune in tunes:
        text = join_tokens(tune)
        ids = tok.encode(text)
        assert len(ids) == len(tune)
        assert tok.decode(ids) == text
    assert AbcTokenizer.from_state(tok.state()).tokens == tok.tokens


def test_tokens_are_musical_symbols_and_prompts_need_no_spaces(folk):
    tok = folk.tokenizer
    assert {"M:6/8", "L:1/8", "K:G", "|:", ":|", "[1", "(3", "d2", "^c", "\n"} <= set(tok.tokens)
    assert tok.decode(tok.encode("M:6/8 L:1/8 K:G|:GAB d2e|")) == "M:6/8 L:1/8 K:G |: G A B d2 e |"
    with pytest.raises(GenloomError, match="characters '/0124:=Q' are not ABC tokens"):
        tok.encode("Q:1/4=120")


def test_splits_are_by_whole_tune_and_repeat(folk):
    parts = {k: {tuple(t) for t in folk.tunes(k)} for k in ("train", "val", "test")}
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["val"]
    again = Folk(OmegaConf.create({"collections": ["oneills"], "block_size": 64}))
    windows = again.splits(0.1, 0.1, 0)
    assert again.tunes("test") == folk.tunes("test")
    first = windows["test"].__getitems__([0])["x"][0]
    assert folk.tokenizer.decode(first.tolist()).startswith("\nM:")
    assert folk.info.kind == "abc" and folk.info.shape == (65,)


def test_reading_a_tune_gives_exact_pitches_and_durations():
    tune = read_tune("M:3/4 L:1/8 K:D F ^F F | (3 c d e f > g - g2 | =c C, c' z |".split())
    assert tune.valid, tune.errors
    # F and C are sharp in D; a written accidental lasts to the end of its bar
    assert [n.pitch for n in tune.notes] == [66, 66, 66, 73, 74, 76, 78, 79, 72, 49, 85]
    durations = [float(d) for _, d in tune.events]
    assert durations[3:8] == pytest.approx([1 / 3] * 3 + [0.75, 0.25])  # triplet, f > g
    assert tune.notes[7].duration == pytest.approx(0.25 + 1.0)  # g - g2: tied into one note
    assert tune.bars == [Fraction(3, 2), Fraction(3), Fraction(2)]
    assert tune.bar_length == Fraction(3) and key_scale("D") == {2, 4, 6, 7, 9, 11, 1}


@pytest.mark.parametrize("line, error", [
    ("L:1/8 M:4/4 K:C C D |", "does not start with M:, L:, K:"),
    ("M:4/4 L:1/8 K:C C K:G D |", "header K:G inside"),
    ("M:4/4 L:1/8 K:C C D", "does not end with a bar line"),
    ("M:4/4 L:1/8 K:C (3 C D | E |", "tuplet cut by a bar line"),
    ("M:4/4 L:1/8 K:C |: C D | E |: F :|", "inside an open repeat"),
    ("M:4/4 L:1/8 K:C C [1 D |", "ending [1 not after a bar line"),
    ("M:4/4 L:1/8 K:C > C |", "without a note before it"),
    ("M:4/4 L:1/8 K:C z2 |", "no notes"),
])
def test_invalid_lines_say_why(line, error):
    tune = read_tune(line.split())
    assert not tune.valid and any(error in e for e in tune.errors), tune.errors


def test_music21_reads_our_abc_with_the_same_notes(folk):
    music21 = pytest.importorskip("music21")
    tunes = folk.tunes("train")
    for tokens in tunes[:: len(tunes) // 6][:6]:
        score = music21.converter.parse(abc_text(tokens), format="abc")
        theirs = [(n.pitch.midi, float(n.quarterLength)) for n in score.flatten().notes]
        ours = [(p, float(d)) for p, d in read_tune(tokens).events if p]
        assert theirs == ours


def test_random_tokens_are_almost_never_valid_tunes(folk):
    from genloom_music.metrics import valid_abc_rate
    from genloom_music.kinds import AbcKind

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, folk.tokenizer.vocab_size, (200, 120), generator=g)
    pieces = AbcKind().pieces(ids, folk.info)
    assert valid_abc_rate(pieces) < 0.02
    test = folk.tunes("test")[0]
    real = AbcKind().pieces(torch.tensor([folk.tokenizer.encode("\n" + join_tokens(test) + "\n")]), folk.info)
    assert real[0].tokens == test and valid_abc_rate(real) == 1.0
