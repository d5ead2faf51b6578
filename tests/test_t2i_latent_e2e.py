"""The latent text-to-image recipe end to end through the CLI, over the VAE plugin's
autoencoder (a flat latent): train, sample with --prompt (CLI and Python API, equal seeds
equal samples), export, and sample again after the VAE's run is deleted; a missing or
wrongly shaped first stage is one line on stderr, exit 2."""

import shutil

import numpy as np
import pytest
import torch

from support import ROOT, run_cli

CONFIGS = ROOT / "plugins" / "vae" / "genloom_vae" / "configs"
#: the recipe shrunk to seconds: no pre-trained text encoder, a tiny UNet, 6 steps
TINY = ["data.name=digits", "model.channels=8", "model.heads=2", "model.timesteps=50",
        "model.text_encoder.dim=16", "model.text_encoder.layers=1", "model.text_encoder.heads=2",
        "model.text_checkpoint=''", "model.freeze_text=false", "trainer.max_steps=6",
        "trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0", "sample.every_n_epochs=0"]


@pytest.fixture(scope="module")
def vae(tmp_path_factory):
    from genloom import load_config, train

    run = tmp_path_factory.mktemp("vae") / "run"
    train(load_config(CONFIGS / "vae-digits.yaml", [f"output_dir={run}", "trainer.max_steps=6",
                                                     "trainer.enable_progress_bar=false",
                                                     "checkpoint.every_n_epochs=0", "sample.every_n_epochs=0"]),
          echo=None)
    return run


@pytest.mark.slow  # ~1 minute: eight genloom processes
def test_latent_t2i_trains_samples_exports_without_the_vae(vae, tmp_path):
    from genloom import load_checkpoint
    from genloom.sampling import draw

    first = tmp_path / "vae"
    shutil.copytree(vae, first)
    run = tmp_path / "latent"
    result = run_cli("train", "t2i-latent-mnist", f"output_dir={run}", f"model.latent.checkpoint={first}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "name: vae:vae" in (run / "config.yaml").read_text()  # the VAE's config came along
    shutil.rmtree(first)

    def sample(source, prompt, out, seed="0"):
        done = run_cli("sample", str(source), "--prompt", prompt, "--n", "4", "--seed", seed, "steps=3",
                       "--out", str(out))
        assert done.returncode == 0, done.stderr[-2000:]
        return np.load(out)

    a = sample(run, "a thin 3 leaning left", tmp_path / "a.npy")
    assert a.shape == (4, 1, 8, 8) and np.isfinite(a).all()
    assert np.array_equal(a, sample(run, "a thin 3 leaning left", tmp_path / "again.npy"))
    assert not np.allclose(a, sample(run, "a thick 8", tmp_path / "b.npy"))
    api = draw(load_checkpoint(run), 4, prompt="a thin 3 leaning left", steps=3,
               generator=torch.Generator().manual_seed(0)).data
    assert api.shape == (4, 1, 8, 8) and torch.isfinite(api).all()
    assert run_cli("export", str(run), str(tmp_path / "export")).returncode == 0
    assert np.array_equal(a, sample(tmp_path / "export", "a thin 3 leaning left", tmp_path / "exported.npy"))


@pytest.mark.slow  # ~30 s each on the loaded VM: a genloom process
@pytest.mark.parametrize("override, message", [
    ("model.latent.checkpoint={missing}", "does not exist"),
    ("data.name=captioned_mnist", "was trained on data of shape (1, 8, 8)"),
])
def test_a_bad_first_stage_is_one_line_exit_2(vae, tmp_path, override, message):
    tiny = [o for o in TINY if not o.startswith("data.name")]
    args = [f"model.latent.checkpoint={vae}", *tiny, override.format(missing=tmp_path / "nope")]
    if override.startswith("model.latent"):
        args.append("data.name=digits")
    result = run_cli("train", "t2i-latent-mnist", f"output_dir={tmp_path / 'run'}", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "run").exists()
