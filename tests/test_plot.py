"""``genloom plot RUN_DIR``: curves from metrics.csv to a PNG, plus samples over data
for 2-D points; one-line errors for a missing or empty metrics.csv and no matplotlib."""

import sys

import pytest
from PIL import Image

from genloom import load_config, train
from genloom.cli import main
from genloom_eval.plot import points_and_samples, read_curves

COMMON = ["trainer.max_steps=4", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
          "trainer.log_every_n_steps=1", "trainer.limit_val_batches=1"]


@pytest.fixture(scope="module")
def toy2d(tmp_path_factory):
    run = tmp_path_factory.mktemp("plot") / "vae-toy2d"
    train(load_config(None, ["model.name=vae", "data.name=toy2d", "data.n=400", "data.batch_size=64",
                             *COMMON, f"output_dir={run}"]), echo=None)
    return run


def test_plot_writes_a_png_of_the_curves_and_the_samples(toy2d, tmp_path, capsys):
    out = tmp_path / "curves.png"
    main(["plot", str(toy2d), "--out", str(out)])
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    with Image.open(out) as image:
        assert image.format == "PNG"
        # loss, recon, kl and the scatter: 3 panels wide, 2 high at 100 dpi
        assert image.size == (1260, 640)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50  # drawn, not blank


def test_plot_defaults_to_run_dir_plot_png(toy2d, capsys):
    main(["plot", str(toy2d)])
    assert (toy2d / "plot.png").is_file()


def test_points_runs_scatter_samples_over_the_training_points(toy2d):
    data, samples = points_and_samples(toy2d)
    assert data.shape == (320, 2) and samples.shape == (1000, 2)


def test_read_curves_pairs_train_and_val_per_metric(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train/loss,val/loss,val/bpc\n0,9,2.0,,\n0,19,1.5,1.7,2.4\n1,29,1.2,,\n")
    curves = read_curves(csv)
    assert curves == {"loss": {"train": ([9.0, 19.0, 29.0], [2.0, 1.5, 1.2]), "val": ([19.0], [1.7])},
                      "bpc": {"val": ([19.0], [2.4])}}


@pytest.mark.parametrize("content, message", [
    (None, "metrics.csv': give a run directory written by genloom train"),
    ("epoch,step,train/loss\n", "holds no logged values yet"),
])
def test_plot_refuses_a_missing_or_empty_metrics_csv(content, message, tmp_path, capsys):
    if content is not None:
        (tmp_path / "metrics.csv").write_text(content)
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "plot.png").exists()


def test_plot_without_matplotlib_says_how_to_install_it(toy2d, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(toy2d), "--out", str(tmp_path / "p.png")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == "error: genloom plot needs matplotlib: pip install 'genloom-eval[plot]'"
