"""The plugin's sample kinds: ``abc`` (token lines) and ``pianoroll`` (four-voice rolls).

``abc`` extends the core's ``tokens`` kind, so ABC samples stream as text in
``genloom sample`` and token models accept the data (``continuous = False``); it also
writes ``.abc`` (standard ABC, one ``X:`` per sample), ``.mid``, ``.wav`` and ``.png``
(a piano roll). ``pianoroll`` is continuous in [-1, 1] (VAE, GAN, diffusion learn it)
and writes ``.mid``, ``.wav`` and ``.png``. Several samples in one MIDI or WAV file play
one after another, a half-note apart. Both turn samples into :class:`Piece` objects,
which the music metrics read.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from genloom import GenloomError
from genloom.kinds import SampleKind
from genloom_text.kinds import TokensKind

from genloom_music.abc import NEWLINE
from genloom_music.notes import Note, concatenate

#: playback tempo in quarter notes per minute
ABC_TEMPO = 120.0
ROLL_TEMPO = 90.0
#: longest tune ``genloom sample`` and the metrics let a model write, in tokens
MAX_TUNE_TOKENS = 600
#: white keys: the scale of C major and A minor, the chorales' keys after transposition
C_MAJOR = {0, 2, 4, 5, 7, 9, 11}


@dataclass
class Piece:
    """What the metrics read of one sample or real example."""

    notes: list[Note]
    #: the piece as a sequence of symbols, for novelty (a note with its duration; a
    #: column of four pitches)
    events: list[Hashable]
    #: the key signature's pitch classes
    scale: set[int]
    #: the ABC token line (``abc`` only)
    tokens: list[str] | None = None


def _write_audio(pieces: list[list[Note]], path: Path, tempo: float, step: float) -> None:
    suffix = path.suffix.lower()
    if suffix == ".mid":
        from genloom_music.midi import write_midi

        write_midi(concatenate(pieces), path, tempo)
    elif suffix == ".wav":
        from genloom_music.synth import write_wav

        write_wav(concatenate(pieces), path, tempo)
    elif suffix == ".png":
        from genloom_music.pictures import write_png

        write_png(pieces, path, step=step)
    else:  # pragma: no cover - SampleKind.write checks suffixes first
        raise GenloomError(f"cannot write '{path}'")


# -- abc --------------------------------------------------------------------------------


def sample_lines(data: Tensor, info: Any, lengths: Tensor | None = None) -> list[list[str]]:
    """Each sample's first tune: the tokens of its first non-empty line."""
    from genloom_music.tokenizer import AbcTokenizer

    if info is None or not info.tokenizer:
        raise GenloomError("abc samples need the data info (tokenizer) to be read")
    vocab = AbcTokenizer.from_state(info.tokenizer).tokens
    lines = []
    for i, row in enumerate(data.tolist()):
        if lengths is not None:
            row = row[: int(lengths[i])]
        tokens = [vocab[t] if 0 <= t < len(vocab) else "?" for t in row]
        line: list[str] = []
        for tok in tokens:
            if tok == NEWLINE:
                if line:
                    break
                continue
            line.append(tok)
        lines.append(line)
    return lines


def abc_piece(tokens: list[str]) -> Piece:
    """A tune's token line as a :class:`Piece` (read leniently when it is not valid)."""
    from genloom_music.tune import read_tune

    tune = read_tune(tokens)
    return Piece(tune.notes, list(tune.events), tune.scale, list(tokens))


class AbcKind(TokensKind):
    """ABC token lines: streamed as text; ``.abc``, ``.mid``, ``.wav``, ``.png``, ``.txt`` files."""

    name = "abc"
    suffixes = (".abc", ".mid", ".wav", ".png", ".txt")
    default_n = 1

    def write_file(self, samples: Any, path: Path, info: Any, record: dict | None = None) -> bool:
        """Writes the file; an ``.abc`` file starts with the generation ``record`` as the
        comment line ``% genloom: {...}`` (other formats get a sidecar from the core)."""
        if path.suffix.lower() == ".txt":
            super().write_file(samples, path, info)
            return False
        lines = sample_lines(samples.data, info, samples.extras.get("lengths"))
        if path.suffix.lower() == ".abc":
            from genloom.provenance import ABC_PREFIX, dumps
            from genloom_music.tune import abc_text

            header = ABC_PREFIX + dumps(record) + "\n" if record is not None else ""
            text = "\n".join(abc_text(t, i + 1) for i, t in enumerate(lines))
            path.write_text(header + text, encoding="utf-8")
            return record is not None
        _write_audio([abc_piece(t).notes for t in lines], path, ABC_TEMPO, step=0.25)
        return False

    def pieces(self, data: Tensor, info: Any, lengths: Tensor | None = None) -> list[Piece]:
        return [abc_piece(t) for t in sample_lines(data, info, lengths)]

    def tune_options(self, sampler: Any, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` plus what makes one sample one tune, where the sampler takes them:
        stop at the line break that ends a tune, and room for a long tune."""
        params = inspect.signature(sampler.sample).parameters
        out = dict(options)
        if "stop" in params and "stop" not in out:
            out["stop"] = NEWLINE
        if "max_new_tokens" in params and "max_new_tokens" not in out:
            out["max_new_tokens"] = MAX_TUNE_TOKENS
        return out

    def draw(
        self,
        model: Any,
        n: int,
        *,
        sampler: str | None = None,
        cond: Tensor | None = None,
        seed: int = 0,
        options: dict[str, Any] | None = None,
        stream: Callable[[str], None] | None = None,
    ) -> Any:
        """As the ``tokens`` kind draws, one tune per sample unless told otherwise."""
        from genloom.sampling import get_sampler

        chosen = get_sampler(sampler or model.default_sampler)
        return super().draw(model, n, sampler=sampler, cond=cond, seed=seed,
                            options=self.tune_options(chosen, options or {}), stream=stream)


# -- pianoroll ----------------------------------------------------------------------------


def roll_piece(roll: Tensor) -> Piece:
    """One ``(4, steps, 32)`` roll as a :class:`Piece`."""
    from genloom_music.chorales import roll_to_voices, voices_to_notes

    voices = roll_to_voices(roll)
    return Piece(voices_to_notes(voices), [tuple(col) for col in voices.T.tolist()], C_MAJOR)


class PianoRollKind(SampleKind):
    """``(n, 4, steps, 32)`` four-voice piano rolls in [-1, 1]; ``.mid``, ``.wav``, ``.png``."""

    name = "pianoroll"
    suffixes = (".png", ".mid", ".wav")
    default_n = 4
    continuous = True
    value_range = (-1.0, 1.0)

    def write_file(self, samples: Any, path: Path, info: Any) -> None:
        from genloom_music.chorales import STEP

        _write_audio([p.notes for p in self.pieces(samples.data, info)], path, ROLL_TEMPO, step=STEP)

    def pieces(self, data: Tensor, info: Any = None, lengths: Tensor | None = None) -> list[Piece]:
        if data.dim() != 4 or data.shape[1] != 4:
            raise GenloomError(f"piano rolls are (n, 4, steps, pitches), got {tuple(data.shape)}")
        return [roll_piece(r) for r in data]

    def random(self, info: Any, n: int, generator: torch.Generator) -> Tensor:
        return torch.rand((n, *info.shape), generator=generator) * 2 - 1
