"""Pruning: each method gives the asked sparsity, the export still loads and samples,
and bad options are one-line errors."""

import json

import pytest
import torch

from genloom import load_checkpoint, load_config, save_model
from genloom.build import build_dataset, build_model
from genloom.cli import main
from genloom_compress.prune import prune_model, prune_weight


def test_masks_have_the_asked_pattern():
    w = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    assert (prune_weight(w, "magnitude", 0.25) == 0).sum() == 32
    m24 = prune_weight(w, "2:4", 0.5)
    assert (m24.reshape(8, 4, 4).sum(-1) == 2).all()  # two of every four kept
    kept = (w.abs() * m24).reshape(8, 4, 4).max(-1).values
    assert torch.equal(kept, w.abs().reshape(8, 4, 4).max(-1).values)  # the largest survive
    rows = prune_weight(w, "rows", 0.5)
    assert (rows.sum(1) == 0).sum() == 4 and set(rows.sum(1).tolist()) == {0.0, 16.0}


@pytest.fixture()
def export_dir(tmp_path):
    cfg = load_config(None, ["data.name=text", "data.block_size=32", "model.name=transformer",
                             "model.width=32", "model.layers=1", "model.heads=2"], check_trainer=False)
    torch.manual_seed(0)
    return save_model(build_model(cfg, build_dataset(cfg).info).eval(), tmp_path / "fp32")


@pytest.mark.parametrize("method,sparsity", [("magnitude", 0.7), ("2:4", 0.5), ("rows", 0.25)])
def test_pruned_export_has_the_sparsity_and_still_samples(export_dir, tmp_path, capsys, method, sparsity):
    capsys.readouterr()
    main(["prune", str(export_dir), str(tmp_path / method), "--method", method,
          "--sparsity", str(sparsity), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["layers"] and all(abs(s - sparsity) < 0.02 for s in report["layers"].values())
    model = load_checkpoint(tmp_path / method)
    for name in report["layers"]:
        assert float((model.get_submodule(name).weight == 0).float().mean()) == pytest.approx(sparsity, abs=0.02)
    out = model.sample(2, generator=torch.Generator().manual_seed(0), max_new_tokens=8).data
    assert out.shape[0] == 2 and out.shape[1] >= 8


def test_bad_options_are_one_line_errors(export_dir, tmp_path, capsys):
    for args, message in [(["--sparsity", "1.5"], "--sparsity"), (["--method", "3:4"], "3:4")]:
        with pytest.raises(SystemExit) as exc:
            main(["prune", str(export_dir), str(tmp_path / "p"), *args])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "p").exists()  # nothing written


def test_a_model_without_linear_layers_is_refused():
    with pytest.raises(Exception, match="no untied nn.Linear"):
        prune_model(torch.nn.Sequential(torch.nn.ReLU()), "magnitude", 0.5)
