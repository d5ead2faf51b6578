"""Entry point of the music plugin: declares its components by import path, as data.

Import-light on purpose: no torch, no numpy, no music21 (genloom imports this module
for every command).
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "dataset:folk": ("genloom_music.folk:Folk",
        "folk tunes in ABC from music21's corpus (O'Neill's 1850 by default), cleaned, split by "
        "tune, abc tokens (needs music21)"),
    "dataset:chorales": ("genloom_music.chorales:Chorales",
        "Bach chorales as (4, 32, 32) piano rolls: 4 voices x 32 sixteenths x 32 pitches, in C "
        "major / A minor, labelled major/minor"),
    "tokenizer:abc": ("genloom_music.tokenizer:AbcTokenizer",
        "ABC symbols: notes with durations, bars, repeats, M:/L:/K: headers"),
    "sample_kind:abc": ("genloom_music.kinds:AbcKind",
        "ABC token lines; streamed as text; .abc, .mid, .wav, .png, .txt"),
    "sample_kind:pianoroll": ("genloom_music.kinds:PianoRollKind",
        "(n, 4, steps, 32) four-voice piano rolls in [-1, 1]; .png, .mid, .wav"),
    "metric:valid_abc": ("genloom_music.metrics:ValidAbc",
        "share of samples that are valid ABC tunes, with its real-data floor"),
    "metric:valid_midi": ("genloom_music.metrics:ValidMidi",
        "share of samples whose MIDI file reads back with their notes, with its real-data floor"),
    "metric:pitch_classes": ("genloom_music.metrics:PitchClasses",
        "pitch-class histogram distance to held-out music, with its real-data floor"),
    "metric:intervals": ("genloom_music.metrics:Intervals",
        "melodic interval histogram distance to held-out music, with its real-data floor"),
    "metric:key_consistency": ("genloom_music.metrics:KeyConsistency",
        "share of note time on the key signature's scale, with its real-data floor"),
    "metric:meter_consistency": ("genloom_music.metrics:MeterConsistency",
        "share of full bars in a tune (abc), with its real-data floor"),
    "metric:tune_novelty": ("genloom_music.metrics:TuneNovelty",
        "1 - longest run of notes shared with a training piece / length, with its real-data floor"),
    "metric:music": ("genloom_music.metrics:Music",
        "every music metric that applies to the samples' kind, with its real-data floor"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:lstm-folk": ("genloom_music:configs/lstm-folk.yaml",
        "an LSTM over ABC tokens of O'Neill's Irish tunes (needs music21)"),
    "config:transformer-folk": ("genloom_music:configs/transformer-folk.yaml",
        "a transformer over ABC tokens of O'Neill's Irish tunes (needs music21)"),
    "config:vae-chorales": ("genloom_music:configs/vae-chorales.yaml",
        "a label-conditional VAE on two-bar windows of Bach chorales (piano rolls)"),
    "config:diffusion-chorales": ("genloom_music:configs/diffusion-chorales.yaml",
        "denoising diffusion on two-bar windows of Bach chorales (piano rolls)"),
}
