"""Entry point of the music plugin: registers its components by import path only.

Import-light on purpose: no torch, no numpy, no music21 (genloom imports this module
for every command).
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("dataset", "folk", "genloom_music.folk:Folk",
             help="folk tunes in ABC from music21's corpus (O'Neill's 1850 by default), "
                  "cleaned, split by tune, abc tokens (needs music21)")
    register("dataset", "chorales", "genloom_music.chorales:Chorales",
             help="Bach chorales as (4, 32, 32) piano rolls: 4 voices x 32 sixteenths x 32 "
                  "pitches, in C major / A minor, labelled major/minor")
    register("tokenizer", "abc", "genloom_music.tokenizer:AbcTokenizer",
             help="ABC symbols: notes with durations, bars, repeats, M:/L:/K: headers")
    register("sample_kind", "abc", "genloom_music.kinds:AbcKind",
             help="ABC token lines; streamed as text; .abc, .mid, .wav, .png, .txt")
    register("sample_kind", "pianoroll", "genloom_music.kinds:PianoRollKind",
             help="(n, 4, steps, 32) four-voice piano rolls in [-1, 1]; .png, .mid, .wav")
    metrics = {
        "valid_abc": "share of samples that are valid ABC tunes",
        "valid_midi": "share of samples whose MIDI file reads back with their notes",
        "pitch_classes": "pitch-class histogram distance to held-out music",
        "intervals": "melodic interval histogram distance to held-out music",
        "key_consistency": "share of note time on the key signature's scale",
        "meter_consistency": "share of full bars in a tune (abc)",
        "tune_novelty": "1 - longest run of notes shared with a training piece / length",
        "music": "every music metric that applies to the samples' kind",
    }
    classes = {"valid_abc": "ValidAbc", "valid_midi": "ValidMidi", "pitch_classes": "PitchClasses",
               "intervals": "Intervals", "key_consistency": "KeyConsistency",
               "meter_consistency": "MeterConsistency", "tune_novelty": "TuneNovelty",
               "music": "Music"}
    for name, help_ in metrics.items():
        register("metric", name, f"genloom_music.metrics:{classes[name]}",
                 help=help_ + ", with its real-data floor")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "lstm-folk", "genloom_music:configs/lstm-folk.yaml",
             help="an LSTM over ABC tokens of O'Neill's Irish tunes (needs music21)")
    register("config", "transformer-folk", "genloom_music:configs/transformer-folk.yaml",
             help="a transformer over ABC tokens of O'Neill's Irish tunes (needs music21)")
    register("config", "vae-chorales", "genloom_music:configs/vae-chorales.yaml",
             help="a label-conditional VAE on two-bar windows of Bach chorales (piano rolls)")
    register("config", "diffusion-chorales", "genloom_music:configs/diffusion-chorales.yaml",
             help="denoising diffusion on two-bar windows of Bach chorales (piano rolls)")
