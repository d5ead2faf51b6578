"""Diffusion end to end through the CLI: train the class-conditional example, sample with
interchangeable samplers and guidance, and latent diffusion over the VAE plugin's
autoencoder that keeps sampling after the VAE's run is gone."""

import shutil

import numpy as np
import pytest

from support import ROOT, run_cli

CONFIGS = ROOT / "examples" / "configs"
#: the examples' networks, shrunk so a CPU trains them in seconds
TINY_UNET = ["model.denoiser.channels=8", "model.denoiser.groups=4", "model.denoiser.heads=2"]
SHORT = ["trainer.max_steps=6", "trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0"]


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("diffusion") / "run"
    result = run_cli("train", str(CONFIGS / "diffusion-cond-digits.yaml"), f"output_dir={run}",
                     *TINY_UNET, *SHORT, "sample.n=10", "sample.options.steps=3")
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_training_writes_a_run_with_guided_sample_grids(cond_run):
    assert (cond_run / "checkpoints" / "last.ckpt").is_file()
    assert [p.suffix for p in (cond_run / "samples").iterdir()] == [".png"]
    assert "name: diffusion:diffusion" in (cond_run / "config.yaml").read_text()


def test_sampler_is_a_cli_option_and_seeds_repeat(cond_run, tmp_path):
    outs = []
    for name, seed in (("a", 3), ("b", 3)):  # other seeds differ: test_diffusion_sampling.py
        out = tmp_path / f"{name}.npy"
        result = run_cli("sample", str(cond_run), "--sampler", "ddim", "steps=5", "eta=0.5",
                         "--cond", "7", "guidance=3", "--n", "4", "--seed", str(seed), "--out", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(np.load(out))
    assert outs[0].shape == (4, 1, 8, 8)
    assert np.array_equal(outs[0], outs[1])
    png = run_cli("sample", str(cond_run), "--sampler", "dpmpp_2m", "steps=4", "--n", "4",
                  "--out", str(tmp_path / "dpm.png"), env={"GENLOOM_PROGRESS": "1"})
    assert png.returncode == 0 and (tmp_path / "dpm.png").is_file()
    assert "dpmpp_2m" in png.stderr  # the progress bar
    wrong = run_cli("sample", str(cond_run), "--sampler", "prior")
    assert wrong.returncode == 2 and wrong.stderr.strip().count("\n") == 0
    assert "drives a Generator" in wrong.stderr


def test_latent_diffusion_over_the_vae(tmp_path):
    from genloom import load_config, train

    vae = tmp_path / "vae"
    train(load_config(CONFIGS / "vae-digits.yaml", [f"output_dir={vae}", *SHORT,
                                                     "sample.every_n_epochs=0"]), echo=None)
    run = tmp_path / "latent"
    result = run_cli("train", str(CONFIGS / "diffusion-latent-vae.yaml"), f"output_dir={run}",
                     f"model.latent.checkpoint={vae}", "model.denoiser.hidden=32", *SHORT,
                     "sample.every_n_epochs=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval mode" not in result.stderr  # the frozen VAE is in eval mode on purpose
    assert "name: vae:vae" in (run / "config.yaml").read_text()  # the VAE's config came along
    shutil.rmtree(vae)
    out = tmp_path / "latent.npy"
    result = run_cli("sample", str(run), "--n", "5", "steps=4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    samples = np.load(out)
    assert samples.shape == (5, 1, 8, 8) and np.isfinite(samples).all()
