"""``genloom evaluate`` without --metric on a tiny checkpoint of every in-house plugin:
it picks the metrics that fit the data kind and capabilities, and reports floors."""

import json

import pytest

from genloom import load_config, train
from genloom.cli import main

COMMON = ["trainer.max_steps=2", "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
          "trainer.limit_val_batches=1"]
RUNS = {
    "cvae-digits": ["model.name=vae", "data.name=digits", "model.conditional=true"],
    "gan-digits": ["model.name=gan", "data.name=digits", "model.generator.name=dcgan",
                   "model.discriminator.name=dcgan"],
    "diffusion-toy2d": ["model.name=diffusion", "data.name=toy2d", "data.n=400",
                        "model.denoiser.name=mlp", "model.timesteps=50"],
    "transformer-text": ["model.name=transformer", "data.name=text", "data.block_size=16",
                         "model.width=16", "model.layers=1", "model.heads=2"],
    "rnn-text": ["model.name=rnn", "data.name=text", "data.block_size=16", "model.hidden=16",
                 "model.layers=1"],
}
FLOORED = {
    "cvae-digits": ["fid", "kid", "precision", "recall", "density", "coverage", "class_kl",
                    "class_min_share", "class_max_share", "cond_accuracy", "cas"],
    "gan-digits": ["fid", "kid", "precision", "coverage", "class_kl"],
    "diffusion-toy2d": ["mmd", "energy", "sliced_wasserstein"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    for name, overrides in RUNS.items():
        train(load_config(None, [*overrides, *COMMON, f"output_dir={root / name}"]), echo=None)
    return root


def _evaluate(capsys, *args):
    capsys.readouterr()
    main(["evaluate", *args])
    return capsys.readouterr().out


@pytest.mark.parametrize("name", RUNS)
def test_evaluate_picks_metrics_that_fit_the_model(runs, name, capsys):
    out = json.loads(_evaluate(capsys, str(runs / name), "--json", "--n", "40"))
    for key in FLOORED.get(name, []):
        assert f"test/{key}" in out and f"test/{key}_floor" in out
    if name.endswith("-text"):
        copying = {f"test/copy_{n}{floor}" for n in (8, 16, 32) for floor in ("", "_floor")}
        assert set(out) == {"test/loss", "test/bpc"} | copying
    if name == "gan-digits":  # adversarial diagnostics, no likelihood; not conditional
        assert {"test/d_loss", "test/g_loss", "test/real_score"} <= set(out)
        assert "test/loss" not in out and "test/cond_accuracy" not in out
        assert "test/novelty_ratio" in out
    if name == "cvae-digits":
        assert "test/loss" in out and out["test/fid"] > out["test/fid_floor"]
    if name == "diffusion-toy2d":
        assert {"test/loss", "test/frechet", "test/novelty_ratio"} <= set(out)


def test_evaluate_text_output_shows_floors_and_named_metrics(runs, capsys):
    text = _evaluate(capsys, str(runs / "cvae-digits"), "--metric", "fid", "--metric", "losses", "--n", "40")
    lines = text.strip().splitlines()
    assert lines[0].startswith("test/fid ") and "floor" in lines[0]
    assert [line.split()[0] for line in lines] == ["test/fid", "test/loss", "test/recon", "test/kl"]


def test_evaluate_refuses_an_n_above_the_test_split(runs, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(runs / "cvae-digits"), "--metric", "fid", "--n", "100000"])
    assert exc.value.code == 2
    assert "--n 100000: give 2 to 180" in capsys.readouterr().err


def test_too_few_samples_for_a_metric_is_one_line_exit_2(runs, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:  # prdc's k = 5 nearest neighbours need 6 points
        main(["evaluate", str(runs / "cvae-digits"), "--n", "4"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --n 4: metric prdc needs at least 6 samples (k = 5 nearest neighbours); "
                   "give --n 6 or more"]


def test_a_checkpoint_seed_out_of_range_is_a_config_error(runs):
    from omegaconf import OmegaConf

    from genloom.checkpoints import load_checkpoint
    from genloom.errors import ConfigError
    from genloom_eval.evaluation import evaluate_model

    model = load_checkpoint(str(runs / "cvae-digits"))
    OmegaConf.set_readonly(model.run_cfg, False)
    model.run_cfg.seed = 2**64
    with pytest.raises(ConfigError, match="seed 18446744073709551616 is out of range"):
        evaluate_model(model, ["losses"])


def test_classifier_metrics_refuse_data_without_a_shipped_network(runs, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(runs / "diffusion-toy2d"), "--metric", "fid"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: metric fid needs a shipped feature network, and there is none "
                             "for dataset 'toy2d'")


def test_fid_without_torchmetrics_is_an_install_hint(runs, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torchmetrics.image.fid", None)  # import fails
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(runs / "cvae-digits"), "--metric", "fid", "--n", "40"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: metric fid needs torchmetrics: pip install 'genloom-eval[metrics]'"
    )
