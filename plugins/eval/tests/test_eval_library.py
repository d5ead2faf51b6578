"""genloom-eval as a library beside the core: its registration, the old import paths,
and the defects fixed when it moved (plot --out, the image folder walk)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from genloom.cli import main
from genloom.config import Sources, resolve_component
from genloom.errors import ConfigError
from genloom.plugins import get_registry
from genloom_eval.data.images import ImageFolder
from genloom_eval.metrics.classes import _fit_and_score, fit_logistic, predict_logistic


def test_the_plugin_module_imports_no_torch_and_adds_the_commands():
    code = (
        "import sys\n"
        "import genloom_eval.plugin\n"
        "from genloom.cli import cli\n"
        "from genloom.plugins import get_plugin_host\n"
        "get_plugin_host().add_commands(cli)\n"
        "assert {'evaluate', 'bench', 'plot', 'interpolate'} <= set(cli.commands), sorted(cli.commands)\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_metrics_and_datasets_are_the_eval_plugins():
    registry = get_registry()
    for kind, name in [("metric", "fid"), ("metric", "losses"), ("metric", "nll"), ("dataset", "mnist"),
                       ("dataset", "images")]:
        assert registry.resolve(kind, name).plugin == "eval"
    # configs and checkpoints written before the split name the core's plugin
    assert registry.resolve("dataset", "genloom:mnist").full_name == "eval:mnist"
    assert registry.resolve("metric", "genloom:fid").full_name == "eval:fid"


@pytest.mark.parametrize("old, new", [
    ("genloom.metrics.fid", "genloom_eval.metrics.fid"),
    ("genloom.evaluation", "genloom_eval.evaluation"),
    ("genloom.interpolation", "genloom_eval.interpolation"),
    ("genloom.data.mnist", "genloom_eval.data.mnist"),
])
def test_an_old_import_path_is_the_same_module_and_warns(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    sys.modules.pop(old, None)


def test_logistic_regression_separates_and_matches_scikit_learn():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(50, 3, generator=g) - 3, torch.randn(50, 3, generator=g) + 3])
    y = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    w = fit_logistic(x, y, 2)
    assert torch.equal(predict_logistic(w, x), y)
    assert _fit_and_score(x, y, x, y) == 1.0
    assert _fit_and_score(x[:50], y[:50], x, y) == 0.5  # one class: predicted everywhere
    sklearn = pytest.importorskip("sklearn.linear_model")
    noisy_x = torch.randn(300, 6, generator=g)
    noisy_y = (noisy_x[:, 0] + noisy_x[:, 1] * 0.5 + torch.randn(300, generator=g) > 0).long() + (noisy_x[:, 2] > 1).long()
    ours = predict_logistic(fit_logistic(noisy_x[:200], noisy_y[:200], 3), noisy_x[200:])
    theirs = sklearn.LogisticRegression(max_iter=300).fit(noisy_x[:200].numpy(), noisy_y[:200].numpy())
    assert (ours.numpy() == theirs.predict(noisy_x[200:].numpy())).mean() >= 0.97


# -- genloom plot --out ------------------------------------------------------------------


@pytest.fixture
def run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,step,train/loss,val/loss\n0,1,2.0,\n0,2,1.5,1.7\n")
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 not a real checkpoint")
    return run


def _plot(capsys, *args):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", *args])
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("target", ["checkpoints/last.ckpt", "metrics.csv", "config.yaml",
                                    "checkpoints/new.png", "notes.png"])
def test_plot_never_replaces_a_file_it_did_not_write(run, target, capsys):
    pytest.importorskip("matplotlib")
    (run / "notes.png").write_text("my notes, misnamed")
    path = run / target
    before = path.read_bytes() if path.exists() else None
    code, err = _plot(capsys, str(run), "--out", str(path))
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --out"), err
    assert (path.read_bytes() if path.exists() else None) == before


def test_plot_replaces_its_own_png_and_writes_svg(run, capsys):
    pytest.importorskip("matplotlib")
    (run / "checkpoints" / "last.ckpt").unlink()  # not a real one: plot would load it for a scatter
    main(["plot", str(run)])
    main(["plot", str(run)])  # an earlier plot is replaced
    assert (run / "plot.png").read_bytes().startswith(b"\x89PNG")
    main(["plot", str(run), "--out", str(run / "plot.svg")])
    assert b"<svg" in (run / "plot.svg").read_bytes()[:500]


# -- the images dataset ------------------------------------------------------------------


def images(path, **options):
    sources = Sources(None, OmegaConf.create(), [])
    cfg = resolve_component("dataset", OmegaConf.create({"name": "images", "path": str(path), **options}),
                            "data", sources)
    return ImageFolder(cfg)


def _png(path, side=12):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((side, side, 3), dtype=np.uint8)).save(path)


def test_the_folder_walk_is_bounded(tmp_path):
    _png(tmp_path / "a" / "b" / "c" / "x.png")
    assert len(images(tmp_path).files) == 1  # three levels: allowed
    _png(tmp_path / "a" / "b" / "c" / "d" / "y.png")
    with pytest.raises(ConfigError, match="more than 3 levels deep.*data.max_depth"):
        images(tmp_path)
    assert len(images(tmp_path, max_depth=4).files) == 2
    for i in range(5):
        _png(tmp_path / f"{i}.png")
    with pytest.raises(ConfigError, match="more than 6 files and folders.*data.max_files"):
        images(tmp_path, max_files=6, max_depth=10)


def test_the_root_of_the_filesystem_is_refused_fast():
    with pytest.raises(ConfigError, match="data.path: '/' "):
        images("/")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_symbolic_links_never_lead_out_of_the_folder(tmp_path):
    outside, root = tmp_path / "outside", tmp_path / "data"
    _png(outside / "secret.png")
    _png(outside / "deep" / "more.png")
    _png(root / "own.png")
    (root / "link.png").symlink_to(outside / "secret.png")
    (root / "linked_dir").symlink_to(outside / "deep", target_is_directory=True)
    (root / "inside.png").symlink_to(root / "own.png")
    assert [p.name for p in images(root).files] == ["inside.png", "own.png"]


@pytest.mark.parametrize("size", [0, -3, 100_000])
def test_a_bad_size_blames_the_key_not_an_image(tmp_path, size):
    _png(tmp_path / "a.png")
    with pytest.raises(ConfigError, match=rf"^data.size must be 1 to 4096 .*got {size}$"):
        images(tmp_path, size=size)


@pytest.mark.parametrize("pixels", [150, 250])  # PIL warns above its limit, raises above twice it
def test_a_decompression_bomb_is_one_line(tmp_path, monkeypatch, pixels):
    _png(tmp_path / "big.png", side=int(pixels ** 0.5) + 1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    ds = images(tmp_path, size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning leaks either
        with pytest.raises(ConfigError, match="claims more than 100 pixels"):
            ds.arrays()
