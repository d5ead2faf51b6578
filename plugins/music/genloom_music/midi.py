"""Notes to a Standard MIDI File and back, with music21's low-level MIDI module.

A file has one track per voice (channel = voice + 1) after a tempo track. Writing and
reading need music21 (``pip install 'genloom-music[music21]'``); without it the call is
a one-line error. Reading back is how ``valid_midi`` checks a sample: a file counts as
valid when music21 parses it and finds the notes that were written.
"""

from __future__ import annotations

from pathlib import Path

from genloom_music.corpus import import_music21
from genloom_music.notes import Note

TICKS_PER_QUARTER = 480
#: default playback tempo, quarter notes per minute
TEMPO = 120.0


def _ticks(quarters: float) -> int:
    return int(round(quarters * TICKS_PER_QUARTER))


def notes_to_midi(notes: list[Note], tempo: float = TEMPO, program: int = 0) -> bytes:
    """A format-1 MIDI file (bytes) holding ``notes``; ``program`` is the GM instrument."""
    music21 = import_music21("writing MIDI")
    midi = music21.midi
    mf = midi.MidiFile()
    mf.format, mf.ticksPerQuarterNote = 1, TICKS_PER_QUARTER
    conductor = midi.MidiTrack(0)
    tempo_event = midi.MidiEvent(conductor, type=midi.MetaEvents.SET_TEMPO)
    tempo_event.data = int(round(60_000_000 / tempo)).to_bytes(3, "big")
    conductor.events += [midi.DeltaTime(conductor, time=0), tempo_event]
    _end_track(midi, conductor)
    mf.tracks.append(conductor)
    for voice in sorted({n.voice for n in notes}):
        track = midi.MidiTrack(len(mf.tracks))
        channel = voice % 16 + 1
        change = midi.MidiEvent(track, type=midi.ChannelVoiceMessages.PROGRAM_CHANGE, channel=channel)
        change.data = program
        track.events += [midi.DeltaTime(track, time=0, channel=channel), change]
        events = []
        for n in notes:
            if n.voice == voice and n.duration > 0:
                events.append((_ticks(n.end), 0, n.pitch))   # note-offs sort first at a tick
                events.append((_ticks(n.onset), 1, n.pitch))
        now = 0
        for tick, on, pitch in sorted(events):
            kind = midi.ChannelVoiceMessages.NOTE_ON if on else midi.ChannelVoiceMessages.NOTE_OFF
            event = midi.MidiEvent(track, type=kind, channel=channel)
            event.pitch, event.velocity = int(pitch), 80 if on else 0
            track.events += [midi.DeltaTime(track, time=tick - now, channel=channel), event]
            now = tick
        _end_track(midi, track)
        mf.tracks.append(track)
    return mf.writestr()


def _end_track(midi, track) -> None:
    end = midi.MidiEvent(track, type=midi.MetaEvents.END_OF_TRACK)
    end.data = b""
    track.events += [midi.DeltaTime(track, time=0), end]


def midi_to_notes(data: bytes) -> list[Note]:
    """The notes of a MIDI file (bytes), voice = track index - 1, sorted by onset.

    Raises whatever music21 raises for bytes that are not a MIDI file.
    """
    music21 = import_music21("reading MIDI")
    mf = music21.midi.MidiFile()
    mf.readstr(data)
    per_quarter = mf.ticksPerQuarterNote
    notes: list[Note] = []
    for index, track in enumerate(mf.tracks):
        now, sounding = 0, {}
        for event in track.events:
            if event.isDeltaTime():
                now += event.time
            elif event.isNoteOn():
                sounding[event.pitch] = now
            elif event.isNoteOff() or (event.type == music21.midi.ChannelVoiceMessages.NOTE_ON):
                start = sounding.pop(event.pitch, None)
                if start is not None:
                    notes.append(Note(start / per_quarter, (now - start) / per_quarter,
                                      int(event.pitch), index - 1))
    return sorted(notes, key=lambda n: (n.onset, n.voice, n.pitch))


def write_midi(notes: list[Note], path: str | Path, tempo: float = TEMPO) -> None:
    Path(path).write_bytes(notes_to_midi(notes, tempo))
