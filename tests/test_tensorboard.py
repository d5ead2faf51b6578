"""TensorBoard, when installed, shows each sample file beside the loss curves: image
grids as images, text samples as text, under the tag ``samples``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genloom import load_config, train
from support import ROOT

pytest.importorskip("tensorboard", reason="the dev extra installs tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

TINY = ["trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0", "sample.every_n_epochs=1"]


def events(run: Path) -> EventAccumulator:
    board = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    board.Reload()
    return board


def test_every_sample_grid_is_an_image_in_tensorboard(tmp_path):
    run = tmp_path / "run"
    cfg = load_config(str(ROOT / "examples/configs/vae-digits.yaml"),
                      [*TINY, "trainer.max_epochs=2", "sample.n=16", f"output_dir={run}"])
    result = train(cfg, echo=None)
    board = events(run)
    assert "samples" in board.Tags()["images"]
    shown = board.Images("samples")
    assert [e.step for e in shown] == [result.trainer.global_step // 2, result.trainer.global_step]
    for event, grid in zip(shown, sorted((run / "samples").glob("epoch-*.png"))):
        image = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))
        assert np.array_equal(image, np.asarray(Image.open(grid).convert("RGB")))
    assert "train/loss" in board.Tags()["scalars"]  # beside the curves


def test_text_samples_are_text_in_tensorboard(tmp_path):
    run = tmp_path / "run"
    cfg = load_config(str(ROOT / "examples/configs/lstm-pydoc.yaml"),
                      [*TINY, "trainer.max_steps=3", "trainer.max_epochs=1", "sample.n=2",
                       "sample.options.max_new_tokens=20", f"output_dir={run}"])
    train(cfg, echo=None)
    board = events(run)
    assert "samples/text_summary" in board.Tags()["tensors"]
    (written,) = (run / "samples").glob("epoch-*.txt")
    shown = board.Tensors("samples/text_summary")[-1].tensor_proto.string_val[0].decode()
    first_line = written.read_text().splitlines()[0]
    assert "    " + first_line in shown.splitlines()


def test_any_kinds_text_file_is_text_and_binary_files_are_left_out(tmp_path):
    """The core knows no plugin's suffixes: UTF-8 text of any suffix is shown, binary
    files (``.npy``, MIDI) are not."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from genloom.training import log_sample_file

    logger = TensorBoardLogger(save_dir=str(tmp_path), name="tensorboard", version="")
    tune = tmp_path / "epoch-001.abc"
    tune.write_text("X:1\nK:G\nGABc|d2|]\n")
    array = tmp_path / "epoch-002.npy"
    np.save(array, np.zeros((2, 3)))
    midi = tmp_path / "epoch-003.mid"
    midi.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk")
    for step, path in enumerate((tune, array, midi), 1):
        log_sample_file([logger], path, step)
    board = events(tmp_path)
    shown = board.Tensors("samples/text_summary")
    assert [e.step for e in shown] == [1]
    assert "    GABc|d2|]" in shown[0].tensor_proto.string_val[0].decode().splitlines()
    assert board.Tags()["images"] == []
