"""Music metrics for ``abc`` and ``pianoroll`` samples, each with its real-data floor.

Every metric draws as many seeded samples as the test split has examples, or
``genloom evaluate --n N`` of them against as many held-out ones (tunes for
``folk``, two-bar windows for ``chorales``; a conditional model gets the test labels),
with the run's ``sample.sampler`` and ``sample.options`` (a diffusion model's ``steps``)
and reports ``test/<name>`` for them and ``test/<name>_floor`` for real data measured
the same way: the held-out tunes against the training tunes. A floor is what a perfect
model of this data could be expected to score, which is not always the ideal value.

| metric | value | floor |
|---|---|---|
| ``valid_abc`` | share of samples that are valid tunes (``tune.read_tune``) | held-out tunes |
| ``valid_midi`` | share whose MIDI file music21 reads back with the notes written, at least one | held-out |
| ``pitch_classes`` | total variation distance between the duration-weighted pitch-class histograms of samples and held-out data | a same-size draw of training data vs held-out |
| ``intervals`` | the same for melodic intervals within a voice (semitones, -12..12, larger clipped) | likewise |
| ``key_consistency`` | mean share of note time on the key signature's scale, per piece | held-out |
| ``meter_consistency`` | mean share of full bars among a tune's inner bars (not the first or last) | held-out |
| ``tune_novelty`` | mean of 1 - (longest run of consecutive notes, with durations, shared with any training piece) / (piece length); a copied tune scores 0 | held-out vs train |

``music`` reports all of those that apply to the kind. Samples are drawn once per
model state and reused across metrics in one process.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch

from genloom import ConfigError
from genloom.kinds import get_kind

from genloom_music.kinds import AbcKind, PianoRollKind, Piece, abc_piece

# -- real and sampled pieces ---------------------------------------------------------------

_SAMPLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _music_kind(model: Any, metric: str) -> AbcKind | PianoRollKind:
    kind = get_kind(model.info.kind)
    if not isinstance(kind, (AbcKind, PianoRollKind)):
        raise ConfigError(f"metric {metric} measures abc or pianoroll samples, not {model.info.kind!r} "
                          "(data.name=folk or chorales)")
    return kind


def real_pieces(model: Any, datamodule: Any, split: str) -> list[Piece]:
    """The real pieces of ``split``: whole tunes (``folk``) or rolls (``chorales``)."""
    kind = get_kind(model.info.kind)
    data = datamodule.split(split)  # makes the splits
    if isinstance(kind, AbcKind):
        tunes = getattr(datamodule.dataset, "tunes", None)
        if tunes is None:
            raise ConfigError("abc metrics need a dataset that keeps whole tunes (data.name=folk)")
        return [abc_piece(t) for t in tunes(split)]
    return kind.pieces(data.x, model.info)


def _labels(datamodule: Any) -> torch.Tensor | None:
    return getattr(datamodule.split("test"), "y", None)


def sampled_pieces(model: Any, datamodule: Any, n: int) -> list[Piece]:
    """``n`` seeded samples of ``model`` as pieces (cached while its weights are unchanged)."""
    kind = _music_kind(model, "music")
    version = (n, int(model.run_cfg.seed), tuple(p._version for p in model.parameters()))
    cached = _SAMPLES.get(model)
    if cached is not None and cached[0] == version:
        return cached[1]
    generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
    cond = _labels(datamodule) if model.conditional else None
    sample_cfg = model.run_cfg.get("sample") or {}
    sampler = sample_cfg.get("sampler") or None
    options: dict[str, Any] = dict(sample_cfg.get("options") or {})  # e.g. a diffusion's steps
    if isinstance(kind, AbcKind):
        from genloom.sampling import get_sampler

        options = kind.tune_options(get_sampler(sampler or model.default_sampler), options)
    samples = model.sample(n, sampler=sampler, cond=cond, generator=generator, **options)
    pieces = kind.pieces(samples.data, model.info, samples.extras.get("lengths"))
    _SAMPLES[model] = (version, pieces)
    return pieces


def _sets(model: Any, datamodule: Any, metric: str) -> tuple[list[Piece], list[Piece], list[Piece]]:
    """``(samples, held-out, training)`` pieces; as many samples as held-out pieces."""
    _music_kind(model, metric)
    test = real_pieces(model, datamodule, "test")
    if not test:
        raise ConfigError(f"metric {metric}: the test split is empty (data.test_fraction)")
    n = getattr(datamodule, "eval_n", None)  # genloom evaluate --n
    if n is not None:
        if not 2 <= n <= len(test):
            raise ConfigError(f"--n {n}: give 2 to {len(test)} (the held-out pieces, for the real-data floor)")
        test = _train_draw(test, n, int(model.run_cfg.seed))
    train = real_pieces(model, datamodule, "train")
    return sampled_pieces(model, datamodule, len(test)), test, train


def _train_draw(train: list[Piece], n: int, seed: int) -> list[Piece]:
    """``n`` pieces of ``train`` drawn without replacement (all of them if fewer)."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    return [train[i] for i in order[:n]]


# -- the measures, on pieces -----------------------------------------------------------------


def valid_abc_rate(pieces: list[Piece]) -> float:
    """Share of pieces whose token line is a valid tune."""
    from genloom_music.tune import read_tune

    return float(np.mean([p.tokens is not None and read_tune(p.tokens).valid for p in pieces]))


def midi_round_trips(piece: Piece) -> bool:
    """Whether the piece's MIDI file reads back (music21) with its notes, and has any."""
    from genloom_music.midi import midi_to_notes, notes_to_midi

    if not piece.notes:
        return False
    try:
        back = midi_to_notes(notes_to_midi(piece.notes))
    except Exception:  # noqa: BLE001 - any failure to read the file back is "not valid"
        return False

    def key(notes):
        return sorted((round(n.onset, 3), round(n.duration, 3), n.pitch) for n in notes)

    return key(back) == key(piece.notes)


def valid_midi_rate(pieces: list[Piece]) -> float:
    return float(np.mean([midi_round_trips(p) for p in pieces]))


def pitch_class_histogram(pieces: list[Piece]) -> np.ndarray:
    """Duration-weighted pitch-class distribution (12 bins; uniform when there are no notes)."""
    h = np.zeros(12)
    for p in pieces:
        for n in p.notes:
            h[n.pitch % 12] += n.duration
    return h / h.sum() if h.sum() > 0 else np.full(12, 1 / 12)


def interval_histogram(pieces: list[Piece]) -> np.ndarray:
    """Distribution of melodic intervals between consecutive notes of a voice, -12..12."""
    h = np.zeros(25)
    for p in pieces:
        by_voice: dict[int, list[int]] = {}
        for n in sorted(p.notes, key=lambda n: n.onset):
            by_voice.setdefault(n.voice, []).append(n.pitch)
        for pitches in by_voice.values():
            for a, b in zip(pitches, pitches[1:]):
                h[int(np.clip(b - a, -12, 12)) + 12] += 1
    return h / h.sum() if h.sum() > 0 else np.full(25, 1 / 25)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two distributions: 0 equal, 1 disjoint."""
    return float(0.5 * np.abs(p - q).sum())


def key_consistency(piece: Piece) -> float:
    """Share of the piece's note time on its key signature's scale (0 with no notes)."""
    total = sum(n.duration for n in piece.notes)
    if total == 0:
        return 0.0
    return sum(n.duration for n in piece.notes if n.pitch % 12 in piece.scale) / total


def meter_consistency(piece: Piece) -> float:
    """Share of a tune's inner bars (all but its first and last) that are full bars."""
    from genloom_music.tune import read_tune

    if piece.tokens is None:
        return 0.0
    tune = read_tune(piece.tokens)
    inner = tune.bars[1:-1]
    if not inner:
        return 0.0
    return sum(b == tune.bar_length for b in inner) / len(inner)


def longest_shared_runs(queries: list[list[Any]], reference: list[list[Any]]) -> list[int]:
    """For each query sequence, the length of its longest run of consecutive symbols that
    also occurs, consecutively, in some reference sequence.

    Symbols become integer ids; runs are compared by 64-bit polynomial hashes, grown one
    symbol at a time from the positions that still match (so the cost follows the
    longest match, not all lengths). Sequences are separated by ids that never match.
    """
    ids: dict[Any, int] = {}

    def encode(seqs: list[list[Any]], sep_base: int) -> tuple[np.ndarray, np.ndarray]:
        flat, owner = [], []
        for i, s in enumerate(seqs):
            flat += [ids.setdefault(x, len(ids) + 1) for x in s] + [sep_base - i]
            owner += [i] * (len(s) + 1)
        return np.array(flat, dtype=np.int64).view(np.uint64), np.array(owner, dtype=np.int64)

    q, q_owner = encode(queries, -1)
    r, _ = encode(reference, -(len(queries) + 2))
    base = np.uint64(1_000_003)
    best = np.zeros(len(queries), dtype=np.int64)
    q_pos, r_pos = np.arange(len(q)), np.arange(len(r))
    q_hash, r_hash = np.zeros(len(q), dtype=np.uint64), np.zeros(len(r), dtype=np.uint64)
    k = 0
    with np.errstate(over="ignore"):
        while len(q_pos) and len(r_pos):
            k += 1
            q_keep, r_keep = q_pos + k - 1 < len(q), r_pos + k - 1 < len(r)
            q_pos, q_hash = q_pos[q_keep], q_hash[q_keep] * base + q[q_pos[q_keep] + k - 1]
            r_pos, r_hash = r_pos[r_keep], r_hash[r_keep] * base + r[r_pos[r_keep] + k - 1]
            q_match = np.isin(q_hash, r_hash)
            r_match = np.isin(r_hash, q_hash[q_match])
            q_pos, q_hash = q_pos[q_match], q_hash[q_match]
            r_pos, r_hash = r_pos[r_match], r_hash[r_match]
            best[np.unique(q_owner[q_pos])] = k
    return best.tolist()


def novelty(pieces: list[Piece], train: list[Piece]) -> float:
    """Mean over pieces with notes of 1 - longest shared run / length (0 with none)."""
    kept = [p for p in pieces if p.notes and p.events]
    if not kept:
        return 0.0
    runs = longest_shared_runs([p.events for p in kept], [p.events for p in train])
    return float(np.mean([1 - r / len(p.events) for r, p in zip(runs, kept)]))


# -- the registered metric components -----------------------------------------------------------


def _measure(name: str, samples: list[Piece], test: list[Piece], train: list[Piece], seed: int) -> dict[str, float]:
    key = f"test/{name}"
    if name == "valid_abc":
        return {key: valid_abc_rate(samples), key + "_floor": valid_abc_rate(test)}
    if name == "valid_midi":
        return {key: valid_midi_rate(samples), key + "_floor": valid_midi_rate(test)}
    if name in ("pitch_class_distance", "interval_distance"):
        hist = pitch_class_histogram if name == "pitch_class_distance" else interval_histogram
        drawn = _train_draw(train, len(test), seed)
        return {key: total_variation(hist(samples), hist(test)),
                key + "_floor": total_variation(hist(drawn), hist(test))}
    if name in ("key_consistency", "meter_consistency"):
        fn = key_consistency if name == "key_consistency" else meter_consistency
        return {key: float(np.mean([fn(p) for p in samples])), key + "_floor": float(np.mean([fn(p) for p in test]))}
    if name == "tune_novelty":
        return {key: novelty(samples, train), key + "_floor": novelty(test, train)}
    raise KeyError(name)  # pragma: no cover


class _MusicMetric:
    """Base of the metric components: which measures, for which kinds."""

    measures: tuple[str, ...] = ()
    metric = ""
    abc_only = False

    def __call__(self, model: Any, datamodule: Any) -> dict[str, float]:
        kind = _music_kind(model, self.metric)
        if self.abc_only and not isinstance(kind, AbcKind):
            raise ConfigError(f"metric {self.metric} measures abc tunes, not {model.info.kind!r} samples")
        samples, test, train = _sets(model, datamodule, self.metric)
        out: dict[str, float] = {}
        for name in self.measures:
            if name in ("valid_abc", "meter_consistency") and not isinstance(kind, AbcKind):
                continue
            out.update(_measure(name, samples, test, train, int(model.run_cfg.seed)))
        return out


class ValidAbc(_MusicMetric):
    metric, measures, abc_only = "valid_abc", ("valid_abc",), True


class ValidMidi(_MusicMetric):
    metric, measures = "valid_midi", ("valid_midi",)


class PitchClasses(_MusicMetric):
    metric, measures = "pitch_classes", ("pitch_class_distance",)


class Intervals(_MusicMetric):
    metric, measures = "intervals", ("interval_distance",)


class KeyConsistency(_MusicMetric):
    metric, measures = "key_consistency", ("key_consistency",)


class MeterConsistency(_MusicMetric):
    metric, measures, abc_only = "meter_consistency", ("meter_consistency",), True


class TuneNovelty(_MusicMetric):
    metric, measures = "tune_novelty", ("tune_novelty",)


class Music(_MusicMetric):
    metric = "music"
    measures = ("valid_abc", "valid_midi", "pitch_class_distance", "interval_distance",
                "key_consistency", "meter_consistency", "tune_novelty")
