"""Provenance: every sample file holds a generation record, ``genloom inspect`` prints it,
``genloom reproduce`` draws the samples again and compares them; a record read from a
file is untrusted input (docs/provenance.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import run_cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.max_steps=2", "trainer.limit_val_batches=1", "trainer.enable_progress_bar=false",
        "sample.n=6", "sample.every_n_epochs=1", "checkpoint.every_n_epochs=0",
        "checkpoint.last_every_seconds=0", "model.encoder.hidden=16", "model.decoder.hidden=16"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A conditional VAE on the 8x8 digits, two steps: image samples with labels."""
    out = tmp_path_factory.mktemp("prov") / "run"
    result = run_cli("train", str(ROOT / "examples" / "configs" / "cvae-digits.yaml"), f"output_dir={out}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _one_line_error(result, code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_sample_png_holds_the_record_and_inspect_prints_it(run, tmp_path):
    from genloom.provenance import file_sha256
    from genloom_eval.provenance import read_record

    out = tmp_path / "s.png"
    result = run_cli("sample", str(run), "--n", "5", "--seed", "7", "--cond", "3,4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "s.png.genloom.json").exists()  # in the PNG's own text chunk
    from PIL import Image

    with Image.open(out) as im:
        assert json.loads(im.info["genloom"]) == read_record(out)
    shown = run_cli("inspect", str(out), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["generated_by"] == "genloom" and record["ai_generated"] is True
    assert record["checkpoint_sha256"] == file_sha256(run / "checkpoints" / "last.ckpt")
    assert (record["seed"], record["n"], record["cond"], record["kind"]) == (7, 5, [3, 4], "image")
    assert record["model"] == "vae:vae" and record["plugins"]["vae"] and record["time"].endswith("+00:00")
    text = run_cli("inspect", str(out))
    assert text.returncode == 0 and "checkpoint_sha256:  " + record["checkpoint_sha256"] in text.stdout
    again = run_cli("reproduce", str(out))
    assert again.returncode == 0 and again.stdout == "reproduced: identical\n", again.stderr


def test_a_train_time_grid_holds_the_record_and_reproduces(run):
    grids = sorted((run / "samples").glob("epoch-*.png"))
    assert grids and not list((run / "samples").glob("*.json"))
    shown = run_cli("inspect", str(grids[-1]), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["source"] == "train" and record["n"] == 6 and record["cond"] == list(range(10))
    again = run_cli("reproduce", str(grids[-1]))
    assert again.returncode == 0 and again.stdout == "reproduced: identical\n", again.stderr


def test_reproduce_catches_a_changed_checkpoint_and_changed_pixels(run, tmp_path):
    import torch
    from PIL import Image

    out = tmp_path / "s.png"
    assert run_cli("sample", str(run), "--n", "4", "--cond", "1", "--out", str(out)).returncode == 0
    other = tmp_path / "other"
    shutil.copytree(run, other)
    ckpt = torch.load(other / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    key = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
    ckpt["state_dict"][key] = ckpt["state_dict"][key] + 0.01
    torch.save(ckpt, other / "checkpoints" / "last.ckpt")
    changed = run_cli("reproduce", str(out), "--run", str(other))
    assert "the checkpoint differs" in _one_line_error(changed, code=1)
    # the file's pixels edited, its record kept: reported
    with Image.open(out) as im:
        pixels, text = im.copy(), im.info["genloom"]
    pixels.putpixel((3, 3), 0 if pixels.getpixel((3, 3)) else 255)
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("genloom", text)
    pixels.save(out, pnginfo=info)
    tampered = run_cli("reproduce", str(out))
    assert "not reproduced" in _one_line_error(tampered, code=1)


def test_npy_gets_a_sidecar_and_reproduces(run, tmp_path):
    out = tmp_path / "s.npy"
    assert run_cli("sample", str(run), "--n", "3", "--seed", "2", "--cond", "5", "--out", str(out)).returncode == 0
    record = json.loads((tmp_path / "s.npy.genloom.json").read_text())
    assert record["generated_by"] == "genloom" and record["n"] == 3
    again = run_cli("reproduce", str(out))
    assert again.returncode == 0 and again.stdout == "reproduced: identical\n", again.stderr


def test_a_file_without_record_or_with_a_hostile_one_is_one_line_exit_2(tmp_path):
    import numpy as np

    from genloom.provenance import MAX_RECORD_BYTES, add_png_record

    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    assert _one_line_error(run_cli("inspect", str(plain))) == f"error: no genloom record in {plain}\n"
    hostile = {
        "huge": json.dumps({"x": "a" * (MAX_RECORD_BYTES + 10)}),
        "notjson": "__import__('os').system('echo pwned')",
        "deep": "[" * 100_000 + "]" * 100_000,
        "notobject": "[1, 2, 3]",
    }
    for name, text in hostile.items():
        f = tmp_path / f"{name}.npy"
        np.save(f, np.zeros(3))
        (tmp_path / f"{name}.npy.genloom.json").write_text(text)
        for command in ("inspect", "reproduce"):
            assert "refused" in _one_line_error(run_cli(command, str(f))), name
    from PIL import Image

    png = tmp_path / "huge.png"
    Image.new("L", (4, 4)).save(png)
    add_png_record(png, {"x": "a" * (MAX_RECORD_BYTES + 10)})
    assert "larger than" in _one_line_error(run_cli("inspect", str(png)))


def test_a_kind_without_the_record_parameter_gets_a_sidecar_and_a_stale_one_goes(tmp_path):
    import torch

    from genloom.interfaces import Samples
    from genloom.kinds import SampleKind
    from genloom_eval.provenance import read_record

    class Old(SampleKind):  # written before records existed
        name, suffixes = "old", (".dat",)

        def write_file(self, samples, path, info):
            path.write_bytes(b"x")

    samples = Samples(data=torch.zeros(2, 3), kind="old")
    path = Old().write(samples, tmp_path / "a.dat", None, {"generated_by": "genloom", "n": 2})
    assert path.read_bytes() == b"x" and read_record(path) == {"generated_by": "genloom", "n": 2}
    Old().write(samples, path, None)  # rewritten without a record: the old one no longer applies
    assert read_record(path) is None


def test_the_reader_moved_to_genloom_eval_and_the_old_name_still_works():
    """Reading records left the core for genloom-eval; the old import path warns once per
    use and gives the same function (removed in genloom 0.3)."""
    import genloom.provenance as core_provenance
    import genloom_eval.provenance as reader

    with pytest.warns(DeprecationWarning, match="genloom.provenance.read_record moved to genloom_eval"):
        assert core_provenance.read_record is reader.read_record
    with pytest.raises(AttributeError):
        core_provenance.no_such_name
