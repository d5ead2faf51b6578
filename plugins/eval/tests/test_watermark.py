"""The watermark: found on marked images with the key, not on unmarked ones nor with
another key, kept through JPEG at a sample grid's size; the command's output and errors."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from genloom.cli import main
from genloom_eval.watermark import TEXT_KEY, detect, embed, read_image


@pytest.fixture(scope="module")
def grids():
    """Forty 112x112 grids of 16 training digits (a sample grid's size) from the 8x8
    digits upsampled: real images, with a black background like MNIST."""
    from genloom.data.digits import load_digit_arrays

    x = np.asarray(load_digit_arrays()[0], dtype=np.float64).reshape(-1, 8, 8)
    tiles = np.kron(x / x.max() * 255, np.ones((3, 3))).round().astype(np.uint8)  # 24x24
    tiles = np.pad(tiles, ((0, 0), (2, 2), (2, 2)))  # 28x28
    return [np.vstack([np.hstack(list(tiles[16 * i + 4 * r : 16 * i + 4 * r + 4])) for r in range(4)])
            for i in range(40)]


def test_marked_images_are_found_and_unmarked_ones_are_not(grids):
    marked = [embed(g, "key") for g in grids]
    assert all(detect(m, "key").marked for m in marked)
    assert not any(detect(g, "key").marked for g in grids)  # unmarked real images
    assert not any(detect(m, "other key").marked for m in marked)  # another key's pattern
    psnr = np.mean([10 * np.log10(255**2 / np.mean((m.astype(float) - g) ** 2)) for m, g in zip(marked, grids)])
    assert psnr > 25  # invisible enough to be a watermark, not a pattern on the image


def test_the_mark_survives_jpeg_75_at_grid_size(grids):
    def jpeg(a):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=75)
        return np.asarray(Image.open(buf))

    assert np.mean([detect(jpeg(embed(g, "key")), "key").marked for g in grids]) >= 0.9


def run(capsys, *args):
    """``genloom ARGS`` in this process: (exit status, stdout + stderr)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out + out.err


def test_the_commands_embed_and_detect(tmp_path, grids, capsys):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("genloom", '{"seed": 0}')
    src, out = tmp_path / "grid.png", tmp_path / "marked.png"
    Image.fromarray(grids[0]).save(src, pnginfo=info)
    assert run(capsys, "watermark", "embed", str(src), "--key", "k", "--out", str(out))[0] == 0
    assert read_image(out)[1]["genloom"] == '{"seed": 0}' and TEXT_KEY in read_image(out)[1]  # record kept
    rows = json.loads(run(capsys, "watermark", "detect", str(out), str(src), "--key", "k", "--json")[1])
    assert [r["marked"] for r in rows] == [True, False] and rows[0]["z"] > rows[0]["threshold"]
    code, output = run(capsys, "watermark", "embed", str(src), "--key", "k", "--out", str(out))
    assert code == 2 and "--force" in output  # nothing overwritten unasked


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    small, junk = tmp_path / "small.png", tmp_path / "junk.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(small)
    junk.write_bytes(b"not an image")
    for path, message in [(small, "too small"), (junk, "not an image")]:
        code, output = run(capsys, "watermark", "detect", str(path), "--key", "k")
        assert code == 2 and message in output and "Traceback" not in output


def test_marking_a_file_in_place_is_whole_or_not_at_all(tmp_path, grids, monkeypatch):
    """The marked file replaces its destination in one step: a write that fails (here the
    fsync) leaves the file that was there, even when the destination is the source."""
    import os

    from genloom_eval.watermark import write_marked

    path = tmp_path / "grid.png"
    Image.fromarray(grids[0]).save(path)
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_marked(path, path, "key")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]
    monkeypatch.undo()
    write_marked(path, path, "key")
    assert detect(read_image(path)[0], "key").marked
