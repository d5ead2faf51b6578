"""Every example config trains a few steps and samples through the CLI (.abc, .mid, .wav); evaluation with
the music metrics; without music21, a one-line install hint and exit 2.

The commands run in this process (run_cli_in_process: no new interpreter importing torch
each time), except the two that hide music21 from a new interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from genloom_devkit.testing import run_cli_in_process

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "examples" / "configs"
SHORT = ["trainer.max_steps=2", "trainer.limit_val_batches=1", "trainer.enable_progress_bar=false",
         "checkpoint.every_n_epochs=0", "data.batch_size=4"]
TINY = {
    "lstm-folk": ["model.hidden=16", "model.layers=1", "data.block_size=32", "sample.n=1",
                  "sample.options.max_new_tokens=20"],
    "transformer-folk": ["model.width=16", "model.layers=1", "model.heads=2", "data.block_size=32",
                         "sample.n=1", "sample.options.max_new_tokens=20"],
    "vae-chorales": ["model.encoder.channels=4", "model.decoder.channels=4", "sample.n=2"],
    "diffusion-chorales": ["model.denoiser.channels=8", "model.denoiser.groups=4",
                           "model.denoiser.heads=2", "sample.n=2", "sample.options.steps=2"],
}
#: what each run's samples are written as through the CLI
OUTPUTS = {"lstm-folk": ".abc", "transformer-folk": ".mid", "vae-chorales": ".wav",
           "diffusion-chorales": ".mid"}
HIDE_MUSIC21 = "import sys; sys.modules['music21'] = None; from genloom.cli import main; main()"


def genloom(*args: str, hide_music21: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    env["OMP_NUM_THREADS"] = "1"
    command = ["-c", HIDE_MUSIC21] if hide_music21 else ["-m", "genloom"]
    return subprocess.run([sys.executable, *command, *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each example config trained a few steps with genloom.train (what 'genloom train'
    calls; one process instead of four keeps the folder fast)."""
    from genloom import load_config, train

    root = tmp_path_factory.mktemp("music")
    out = {}
    for name, tiny in TINY.items():
        run = root / name
        train(load_config(CONFIGS / f"{name}.yaml", [f"output_dir={run}", *SHORT, *tiny]), echo=None)
        out[name] = run
    return out


@pytest.mark.parametrize("name", list(TINY))
def test_every_example_trains_and_samples_through_the_cli(runs, name, tmp_path):
    run = runs[name]
    assert (run / "checkpoints" / "last.ckpt").is_file()
    written = sorted(p.suffix for p in (run / "samples").iterdir())
    assert written == ([".abc"] if name.endswith("folk") else [".png"])  # the abc kind's own file
    out = tmp_path / f"x{OUTPUTS[name]}"
    extra = {"lstm-folk": ["max_new_tokens=30"], "transformer-folk": ["max_new_tokens=30"],
             "vae-chorales": ["--cond", "1"], "diffusion-chorales": ["steps=2"]}[name]
    result = run_cli_in_process("sample", str(run), "--n", "2", "--seed", "1", "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"wrote 2 samples to {out}"
    if out.suffix == ".abc":
        text = out.read_text()  # the generation record first, as an ABC comment
        assert text.startswith("% genloom: {") and "\nX:1\nT:genloom 1\n" in text and "X:2" in text
        assert run_cli_in_process("inspect", str(out)).stdout.startswith("generated_by:       genloom")
        again = run_cli_in_process("reproduce", str(out))
        assert again.returncode == 0 and again.stdout == "reproduced: identical\n", again.stderr
    elif out.suffix == ".wav":
        with wave.open(str(out)) as f:
            assert f.getnframes() > f.getframerate()  # two 2-bar rolls: several seconds
    else:
        assert out.read_bytes().startswith(b"MThd")
    if out.suffix != ".abc":  # MIDI and WAV: the record in a sidecar
        import json

        record = json.loads(out.with_name(out.name + ".genloom.json").read_text())
        assert record["generated_by"] == "genloom" and record["n"] == 2 and record["seed"] == 1


def test_abc_samples_stream_as_text(runs):
    result = run_cli_in_process("sample", str(runs["lstm-folk"]), "--seed", "3", "max_new_tokens=15")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("\n") and 1 <= len(result.stdout.split()) <= 15


def test_evaluate_prints_music_metrics_with_floors(runs):
    result = run_cli_in_process("evaluate", str(runs["vae-chorales"]), "--metric", "music", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    import json

    values = json.loads(result.stdout)
    assert {"test/pitch_class_distance", "test/pitch_class_distance_floor", "test/tune_novelty",
            "test/valid_midi_floor", "test/key_consistency"} <= set(values)
    assert "test/valid_abc" not in values and np.isfinite(list(values.values())).all()


def test_without_music21_folk_and_midi_are_a_one_line_install_hint(runs, tmp_path):
    folk = genloom("train", str(CONFIGS / "lstm-folk.yaml"), f"output_dir={tmp_path / 'f'}", *SHORT,
                   hide_music21=True)
    midi = genloom("sample", str(runs["diffusion-chorales"]), "steps=2", "--out", str(tmp_path / "x.mid"),
                   hide_music21=True)
    for result in (folk, midi):
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert "needs the 'music21' package: pip install 'genloom-music[music21]'" in result.stderr


def test_the_plugin_module_is_import_light():
    code = ("import sys, genloom_music.plugin; "
            "print(sorted(m for m in ('torch', 'numpy', 'music21') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
