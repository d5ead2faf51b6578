"""Lazy image folders (decoded in loader workers, resize/crop/flip from config) and
Hugging Face datasets through a column mapping; bad input is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from genloom.data.splits import DataSplits
from genloom.errors import ConfigError
from genloom_eval.data.lazy_images import ImageStream


def cfg(**data):
    base = {"name": "image-stream", "size": 8, "channels": 3, "resize": 0, "crop": "center", "flip": False,
            "max_files": 1000, "max_depth": 3, "batch_size": 4, "num_workers": 0, "val_fraction": 0.2,
            "test_fraction": 0.0, "split_seed": 0}
    return OmegaConf.create({**base, **data})


@pytest.fixture
def folder(tmp_path):
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(10):
            pixels = np.zeros((12, 16, 3), np.uint8)
            pixels[:, :8] = 255 if c == "cat" else 0  # left half white for cats
            pixels[..., 1] = i
            Image.fromarray(pixels).save(tmp_path / c / f"{i}.png")
    return tmp_path


def test_images_load_lazily_with_transforms_in_workers(folder):
    data = ImageStream(cfg(path=str(folder), num_workers=2, crop="random", flip=True, resize=10))
    assert data.info.shape == (3, 8, 8) and data.info.class_names == ["cat", "dog"]
    splits = DataSplits(data, data.cfg)
    batches = list(splits.train_dataloader())
    x = torch.cat([b["x"] for b in batches])
    assert x.shape == (16, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
    cats = x[torch.cat([b["y"] for b in batches]) == 0]
    # flipped half the time: a cat's white half is sometimes on the left, sometimes right
    left = cats[:, 0, :, :2].mean((1, 2)) > 0
    assert left.any() and (~left).any()
    val = next(iter(splits.val_dataloader()))["x"]  # no random transforms when held out
    assert (val[:, 0, :, :2].mean((1, 2)) > 0).tolist() == (val[:, 0, :, :2].mean((1, 2)) > 0).tolist()


def test_an_epoch_reads_every_training_image_once(folder):
    data = ImageStream(cfg(path=str(folder)))
    split = DataSplits(data, data.cfg).split("train")
    assert len(split) == 16 and len(set(split.files)) == 16


@pytest.mark.parametrize("change, message", [
    ({"crop": "diagonal"}, "data.crop"), ({"resize": 4}, "at least data.size"),
    ({"path": "/nonexistent"}, "does not exist"),
])
def test_bad_image_config_is_one_line(folder, change, message):
    with pytest.raises(ConfigError, match=message):
        ImageStream(cfg(**{"path": str(folder), **change}))


def test_a_broken_image_names_its_file(folder):
    (folder / "cat" / "bad.png").write_bytes(b"not a png")
    data = ImageStream(cfg(path=str(folder), val_fraction=0.0))
    split = DataSplits(data, data.cfg).split("train")
    with pytest.raises(ConfigError, match="bad.png"):
        [split[i] for i in range(len(split))]


datasets = pytest.importorskip("datasets")


def hf_cfg(**data):
    base = {"name": "hf", "split": "train", "streaming": False, "columns": {}, "size": 8, "channels": 1,
            "tokenizer": "byte", "block_size": 8, "shuffle_buffer": 10, "num_classes": 0, "batch_size": 4,
            "num_workers": 0, "val_fraction": 0.25, "test_fraction": 0.0, "split_seed": 0}
    return OmegaConf.create({**base, **data})


@pytest.fixture
def hf_images(tmp_path):
    from PIL import Image

    features = datasets.Features({"img": datasets.Image(), "digit": datasets.ClassLabel(names=["a", "b"])})
    rows = {"img": [Image.fromarray(np.full((10, 10), 20 * i, np.uint8)) for i in range(12)],
            "digit": [i % 2 for i in range(12)]}
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(tmp_path / "hf")
    return str(tmp_path / "hf")


@pytest.mark.parametrize("streaming", [False, True])
def test_hf_images_through_a_column_mapping(hf_images, streaming):
    from genloom_eval.data.hf import HFDataset

    data = HFDataset(hf_cfg(path=hf_images, streaming=streaming, columns={"image": "img", "label": "digit"}))
    assert data.info.kind == "image" and data.info.shape == (1, 8, 8)
    assert data.info.num_classes == 2 and data.info.class_names == ["a", "b"]
    batches = list(DataSplits(data, data.cfg).train_dataloader())
    x = torch.cat([b["x"] for b in batches])
    assert len(x) == (12 if streaming else 8) and x.shape[1:] == (1, 8, 8)  # 9 train rows, last batch dropped
    assert len({round(float(v), 4) for v in x[:, 0, 0, 0]}) == len(x)  # every row once


def test_hf_text_becomes_token_windows(tmp_path):
    from genloom_eval.data.hf import HFDataset

    (tmp_path / "t.jsonl").write_text("".join(f'{{"body": "row {i} of text"}}\n' for i in range(20)))
    data = HFDataset(hf_cfg(path=str(tmp_path / "t.jsonl"), streaming=True, columns={"text": "body"}))
    assert data.info.kind == "tokens" and data.info.shape == (9,) and data.info.vocab_size == 256
    x = torch.cat(list(b["x"] for b in DataSplits(data, data.cfg).train_dataloader()))
    assert x.shape[1] == 9 and x.dtype == torch.long


def test_hf_missing_column_is_one_line(hf_images, cli, tmp_path):
    r = cli("train", "vae-digits", "data.name=hf", f"data.path={hf_images}", "data.columns={image: picture}",
            "data.channels=1", "data.size=8", f"output_dir={tmp_path}/r")
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "no column 'picture'" in r.stderr
