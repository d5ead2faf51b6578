"""Built-in datasets, deterministic splits, tokenizers and the sample writers."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from genloom import load_config
from genloom.config import Sources, resolve_component
from genloom.data.digits import Digits
from genloom_eval.data.images import ImageFolder
from genloom_text.data import Text, default_corpus
from genloom_text.tokenizers import ByteTokenizer, CharTokenizer, tokenizer_from_state
from genloom.data.toy2d import SHAPES, Toy2D, moons, swiss_roll
from genloom.errors import ConfigError, GenloomError
from genloom.interfaces import Samples
from genloom.kinds import save_samples


def cfg(name, **options):
    sources = Sources(None, OmegaConf.create(), [])
    return resolve_component("dataset", OmegaConf.create({"name": name, **options}), "data", sources)


def test_digits_are_scaled_images_with_labels():
    ds = Digits(cfg("digits"))
    x, y = ds.arrays()
    assert x.shape == (1797, 1, 8, 8) and x.min() == -1 and x.max() == 1
    assert sorted(y.unique().tolist()) == list(range(10))
    assert ds.info.kind == "image" and ds.info.num_classes == 10


def test_splits_are_deterministic_and_disjoint():
    ds = Digits(cfg("digits"))
    a, b = ds.splits(0.1, 0.1, seed=0), Digits(cfg("digits")).splits(0.1, 0.1, seed=0)
    assert torch.equal(a["train"].x, b["train"].x)
    assert [len(a[k]) for k in ("train", "val", "test")] == [1437, 180, 180]
    c = ds.splits(0.1, 0.1, seed=1)
    assert not torch.equal(a["test"].x, c["test"].x)
    rows = {tuple(r) for r in a["train"].x.flatten(1).tolist()}
    test_rows = [tuple(r) for r in a["test"].x.flatten(1).tolist()]
    assert sum(r in rows for r in test_rows) < 5  # only true duplicates in the source data
    batch = a["train"].__getitems__([0, 5, 7])
    assert batch["x"].shape == (3, 1, 8, 8) and batch["y"].shape == (3,)


@pytest.mark.parametrize("shape", SHAPES)
def test_toy2d_shapes_are_standardised(shape):
    x, y = Toy2D(cfg("toy2d", shape=shape, n=2000)).arrays()
    assert x.shape == (2000, 2) and y is None
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(x.std(0), torch.ones(2), atol=1e-2)


def test_digits_are_scikit_learns_digits():
    from sklearn.datasets import load_digits  # in the dev extra: the reference, test-only

    from genloom.data.digits import load_digit_arrays

    bunch = load_digits()
    images, labels = load_digit_arrays()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert np.array_equal(images, bunch.images) and np.array_equal(labels, bunch.target)
    assert images.min() == 0 and images.max() == 16
    x, y = Digits(cfg("digits")).arrays()
    expected = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0 * 2.0 - 1.0
    assert torch.equal(x, expected) and torch.equal(y, torch.tensor(bunch.target))


def test_builtin_datasets_load_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None\n"  # any sklearn import now fails
            "from omegaconf import OmegaConf\n"
            "from genloom.data.digits import Digits\n"
            "from genloom.data.toy2d import SHAPES, Toy2D\n"
            "assert Digits(OmegaConf.create({})).arrays()[0].shape == (1797, 1, 8, 8)\n"
            "for s in SHAPES:\n"
            "    Toy2D(OmegaConf.create({'shape': s, 'n': 100, 'noise': 0.05, 'seed': 0})).arrays()\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape", SHAPES)
def test_toy2d_is_deterministic_per_seed(shape):
    def points(seed):
        return Toy2D(cfg("toy2d", shape=shape, n=500, seed=seed)).arrays()[0]

    assert torch.equal(points(3), points(3))
    assert not torch.equal(points(3), points(4))


def test_toy2d_shapes_lie_where_they_should():
    rng = np.random.default_rng(0)
    pts = moons(rng, 1001, 0.0)  # on the two half circles, 500 upper and 501 lower
    upper = np.isclose(np.hypot(*pts.T), 1.0) & (pts[:, 1] >= -1e-12)
    lower = np.isclose(np.hypot(pts[:, 0] - 1, pts[:, 1] - 0.5), 1.0) & (pts[:, 1] <= 0.5 + 1e-12)
    assert upper.sum() == 500 and lower.sum() == 501 and (upper ^ lower).all()
    assert not np.array_equal(pts[:500], moons(np.random.default_rng(1), 1001, 0.0)[:500])  # shuffled
    noise = moons(np.random.default_rng(5), 20000, 0.1) - moons(np.random.default_rng(5), 20000, 0.0)
    assert abs(noise.mean()) < 0.005 and abs(noise.std() - 0.1) < 0.002  # N(0, noise^2) added

    roll = swiss_roll(np.random.default_rng(0), 5000, 0.0)  # radius t = angle, t in [1.5 pi, 4.5 pi]
    t = np.hypot(*roll.T)
    assert t.min() >= 1.5 * np.pi and t.max() <= 4.5 * np.pi
    assert np.allclose(np.cos(t) * t, roll[:, 0]) and np.allclose(np.sin(t) * t, roll[:, 1])

    raw = Toy2D(cfg("toy2d", shape="gaussians8", n=4000, noise=0.05)).arrays()[0].numpy()
    angles = np.round(np.arctan2(raw[:, 1], raw[:, 0]) / (np.pi / 4)) % 8
    assert sorted(np.unique(angles).tolist()) == list(range(8))  # all 8 modes present
    board = Toy2D(cfg("toy2d", shape="checkerboard", n=4000)).arrays()[0].numpy()
    assert np.abs(board).max() < 2.5  # standardised [-2, 2] squares


def test_toy2d_rejects_unknown_shape():
    with pytest.raises(ConfigError, match="did you mean 'moons'"):
        Toy2D(cfg("toy2d", shape="moon"))


def test_text_default_corpus_and_contiguous_splits():
    # fixed windows: the same cuts every epoch (training defaults to random offsets,
    # tests/test_decay_and_windows.py)
    ds = Text(cfg("text", block_size=32, windows="fixed"))
    assert len(default_corpus()) > 400_000
    splits = ds.splits(0.05, 0.05, seed=0)
    batch = splits["train"].__getitems__([0, 1])
    assert batch["x"].shape == (2, 33) and batch["x"].dtype == torch.long
    tok = ds.tokenizer
    text = ds.text()
    assert tok.decode(batch["x"][0].tolist()) == text[:33]
    assert tok.decode(splits["train"].__getitems__([1])["x"][0].tolist()) == text[32:65]
    n_train = int(len(text) * 0.9)
    assert tok.decode(splits["val"].__getitems__([0])["x"][0].tolist()) == text[n_train : n_train + 33]
    assert ds.info.vocab_size == tok.vocab_size and ds.info.tokenizer["name"] == "char"


def test_text_file_and_byte_tokenizer(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("héllo wörld " * 50, encoding="utf-8")
    ds = Text(cfg("text", path=str(path), tokenizer="byte", block_size=8))
    assert ds.info.vocab_size == 256
    with pytest.raises(ConfigError, match="does not exist"):
        Text(cfg("text", path=str(tmp_path / "missing.txt"))).text()


def test_tokenizers_round_trip_and_unknown_characters():
    char = CharTokenizer.fit("hello world")
    assert char.decode(char.encode("low world")) == "low world"
    with pytest.raises(GenloomError, match="'z'"):
        char.encode("zoo")
    assert tokenizer_from_state(char.state()).chars == char.chars
    byte = ByteTokenizer()
    assert byte.decode(byte.encode("naïve ☃")) == "naïve ☃"


def test_image_folder_with_class_subfolders(tmp_path):
    for label, value in (("cats", 0), ("dogs", 255)):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((20, 30, 3), value, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    ds = ImageFolder(cfg("images", path=str(tmp_path), size=16))
    x, y = ds.arrays()
    assert x.shape == (6, 3, 16, 16) and ds.info.class_names == ["cats", "dogs"]
    assert torch.allclose(x[y == 0], torch.full_like(x[y == 0], -1.0))
    assert torch.allclose(x[y == 1], torch.full_like(x[y == 1], 1.0))
    with pytest.raises(ConfigError, match="does not exist"):
        ImageFolder(cfg("images", path=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no .png"):
        ImageFolder(cfg("images", path=str(tmp_path / "empty")))


def test_sample_writers(tmp_path):
    from genloom.data.info import DataInfo

    images = Samples(torch.linspace(-1, 1, 9 * 64).view(9, 1, 8, 8), kind="image")
    grid = Image.open(save_samples(images, tmp_path / "grid.png"))
    assert grid.size == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)  # 3x3 cells upscaled to 32px, 2px gaps
    points = Samples(torch.zeros(10, 2), kind="points")
    assert Image.open(save_samples(points, tmp_path / "pts.png")).size == (512, 512)
    info = DataInfo(kind="tokens", shape=(4,), tokenizer=CharTokenizer(["a", "b"]).state())
    text = save_samples(Samples(torch.tensor([[0, 1, 1, 0]]), kind="tokens"), tmp_path / "t.txt", info)
    assert text.read_text().startswith("abba")
    with pytest.raises(GenloomError, match="use .png or .npy"):
        save_samples(images, tmp_path / "grid.jpg")


def test_text_takes_its_tokenizer_from_the_registry():
    ds = Text(cfg("text", tokenizer="text:byte", block_size=8))
    assert ds.info.vocab_size == 256 and tokenizer_from_state(ds.info.tokenizer).vocab_size == 256
    with pytest.raises(ConfigError, match=r"data.tokenizer: unknown tokenizer 'chr' \(did you mean 'char'"):
        Text(cfg("text", tokenizer="chr"))


def test_a_text_file_that_is_not_utf8_is_a_one_line_error(tmp_path):
    from genloom.build import build_dataset
    from genloom.errors import ConfigError

    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait\n".encode("latin-1"))
    cfg = load_config(None, ["data.name=text", f"data.path={path}", "model.name=rnn"], check_trainer=False)
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 at offset 3\)"):
        build_dataset(cfg).info
