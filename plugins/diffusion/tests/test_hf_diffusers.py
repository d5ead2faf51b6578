"""diffusers folders in: a DDPM/DDIM pipeline samples with genloom's own samplers as the
diffusers pipeline does at the same seed and steps, an AutoencoderKL encodes and
decodes as diffusers' does, and bad folders are one line, exit 2.

diffusers is the reference (a test-only dependency, in this plugin's ``test`` extra and
the root ``dev`` extra); the tiny random-weight models come from ``diffusers_models.py``.
Both sides draw the initial noise and every step's noise from the same CPU
``torch.Generator`` in the same order, so their outputs are comparable number for number.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import diffusers_models as dm  # noqa: E402

from genloom import CheckpointError, load_checkpoint  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def ours(model, sampler, steps, seed=3, **options):
    data = model.sample(2, sampler=sampler, generator=torch.Generator().manual_seed(seed), steps=steps,
                        **options).data
    return (data / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # as the pipeline's output_type="np"


def theirs(pipe, steps, seed=3, **options):
    pipe.set_progress_bar_config(disable=True)
    return pipe(batch_size=2, generator=torch.Generator().manual_seed(seed), num_inference_steps=steps,
                output_type="np", **options).images


@pytest.mark.parametrize("scheduler", [
    {}, {"timestep_spacing": "trailing"}, {"steps_offset": 1},
    {"prediction_type": "v_prediction", "clip_sample": False}, {"beta_schedule": "squaredcos_cap_v2"},
    {"prediction_type": "sample", "beta_schedule": "scaled_linear", "timestep_spacing": "trailing"},
])
def test_ddpm_and_ddim_match_the_diffusers_pipelines(tmp_path, scheduler):
    from diffusers import DDIMPipeline, DDIMScheduler

    pipe = dm.ddpm(tmp_path / "pipe", scheduler=scheduler)
    model = load_checkpoint(tmp_path / "pipe")  # the folder itself, through the diffusers layout
    # float32 on both sides; diffusers computes each step's coefficients in float32
    assert np.abs(ours(model, "ddpm", 20) - theirs(pipe, 20)).max() <= 2e-5
    ddim = DDIMPipeline(unet=pipe.unet, scheduler=DDIMScheduler.from_config(pipe.scheduler.config))
    for eta in (0.0, 1.0):  # diffusers' DDIM clips x0 and then re-derives eps only when asked to
        ref = theirs(ddim, 10, eta=eta, use_clipped_model_output=True)
        assert np.abs(ours(model, "ddim", 10, eta=eta) - ref).max() <= 2e-5, eta


def test_ddpm_over_every_timestep(tmp_path):
    """All 100 timesteps: equal to 1e-4 in float32 (diffusers computes each step's
    coefficients in float32, and 100 chained steps of a random network grow that
    rounding to ~3e-5), and to 1e-6 once diffusers' table is float64 too."""
    pipe = dm.ddpm(tmp_path / "pipe")
    model = load_checkpoint(tmp_path / "pipe")
    assert np.abs(ours(model, "ddpm", 100) - theirs(pipe, 100)).max() <= 1e-4
    pipe.unet.to(torch.float64), model.to(torch.float64)
    for name in ("alphas_cumprod", "betas", "one"):
        setattr(pipe.scheduler, name, getattr(pipe.scheduler, name).double())
    assert np.abs(ours(model, "ddpm", 100) - theirs(pipe, 100)).max() <= 1e-6


def cli(*args: str) -> int:
    from genloom.cli import main

    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_import_command_export_samples_the_same(tmp_path, capsys):
    dm.ddpm(tmp_path / "pipe")
    assert cli("import-diffusers", str(tmp_path / "pipe"), str(tmp_path / "export")) == 0
    out = capsys.readouterr().out
    assert "UNet2DModel" in out and "100 timesteps" in out, out
    direct, exported = load_checkpoint(tmp_path / "pipe"), load_checkpoint(tmp_path / "export")
    assert not any(m.__module__.startswith("diffusers") for m in map(type, exported.modules()))
    assert np.array_equal(ours(direct, "ddim", 5), ours(exported, "ddim", 5))


def test_sampling_an_imported_folder_never_imports_diffusers(tmp_path):
    import subprocess

    dm.ddpm(tmp_path / "pipe")
    code = ("import sys; sys.modules['diffusers'] = None  # any import of diffusers now fails\n"
            "from genloom import load_checkpoint\n"
            f"print(load_checkpoint({str(tmp_path / 'pipe')!r}).sample(1, sampler='ddpm', steps=3).data.shape)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "torch.Size([1, 3, 16, 16])" in r.stdout, r.stderr


def test_vae_is_a_frozen_first_stage(tmp_path, capsys):
    from genloom import DataInfo, build_model, load_config, save_model

    vae = dm.vae(tmp_path / "vae")
    assert cli("import-diffusers", str(tmp_path / "vae"), str(tmp_path / "vae-export")) == 0
    assert "AutoencoderKL, 43,711 parameters, latents (4, 8, 8)" in capsys.readouterr().out
    exported = load_checkpoint(tmp_path / "vae-export")
    assert exported.sample(2, generator=torch.Generator().manual_seed(0)).data.shape == (2, 3, 16, 16)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cfg = load_config(base={"model": {"name": "diffusion", "ema": False, "latent": {
        "checkpoint": str(tmp_path / "vae"), "scale": 1.0}, "denoiser": {"name": "mlp"}}}, check_trainer=False)
    model = build_model(cfg, DataInfo(kind="image", shape=(3, 16, 16)))
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mean
        assert torch.allclose(model.first_stage.encode(x), z, atol=1e-5)
        assert torch.allclose(model.first_stage.decode(z), vae.decode(z).sample, atol=1e-5)
    # the latent model's export carries the autoencoder: rebuilt without the folder
    save_model(model, tmp_path / "ldm")
    (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    again = load_checkpoint(tmp_path / "ldm")
    with torch.no_grad():
        assert torch.allclose(again.first_stage.decode(z), vae.decode(z).sample, atol=1e-5)
    assert again.sample(1, sampler="ddim", steps=2).data.shape == (1, 3, 16, 16)


def _edit(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


BAD = {
    "missing weights": lambda p: (p / "unet" / "diffusion_pytorch_model.safetensors").unlink(),
    "missing scheduler": lambda p: (p / "scheduler" / "scheduler_config.json").unlink(),
    "block type": lambda p: _edit(p / "unet" / "config.json", down_block_types=["SkipDownBlock2D"] * 3),
    "mismatched shapes": lambda p: _edit(p / "unet" / "config.json", time_embedding_dim=48),
    "scheduler": lambda p: _edit(p / "scheduler" / "scheduler_config.json", _class_name="EulerDiscreteScheduler"),
    "thresholding": lambda p: _edit(p / "scheduler" / "scheduler_config.json", thresholding=True),
    "pipeline": lambda p: _edit(p / "model_index.json", _class_name="StableDiffusionPipeline"),
    "not json": lambda p: (p / "unet" / "config.json").write_text("{"),
    "class embeddings": lambda p: _edit(p / "unet" / "config.json", num_class_embeds=10),
    "clip range": lambda p: _edit(p / "scheduler" / "scheduler_config.json", clip_sample_range="1"),
    "huge": lambda p: _edit(p / "unet" / "config.json", block_out_channels=[8, 16, 10**6]),
}
EXPECTED = {
    "missing weights": "has no diffusion_pytorch_model.safetensors",
    "missing scheduler": "has no scheduler_config.json",
    "block type": "block type 'SkipDownBlock2D' is not supported",
    "mismatched shapes": "do not fit its config",
    "scheduler": "scheduler 'EulerDiscreteScheduler' is not supported",
    "thresholding": "thresholding=True is not supported",
    "pipeline": "pipeline 'StableDiffusionPipeline' is not supported",
    "not json": "is not valid JSON",
    "class embeddings": "num_class_embeds=10 is not supported",
    "clip range": "clip_sample_range must be a positive number, not '1'",
    "huge": "channel counts must lie in 1..8192",
}


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good") / "pipe"
    dm.ddpm(folder)
    return folder


@pytest.mark.parametrize("how", sorted(BAD))
def test_bad_folder_is_one_line_exit_2(pipeline_folder, tmp_path, how, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(pipeline_folder, bad)
    BAD[how](bad)
    code = cli("import-diffusers", str(bad), str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and EXPECTED[how] in err, err
    assert not (tmp_path / "out").exists()


def test_lone_unet_and_unknown_folder(tmp_path):
    dm.unet().save_pretrained(str(tmp_path / "unet"))
    with pytest.raises(CheckpointError, match="without its scheduler"):
        load_checkpoint(tmp_path / "unet")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"_class_name": "UNet1DModel", "_diffusers_version": "0"}')
    with pytest.raises(CheckpointError, match="'UNet1DModel' is not supported"):
        load_checkpoint(tmp_path / "other")


def test_export_format_diffusers_round_trips(tmp_path, capsys):
    """genloom export --format diffusers writes an imported pipeline or autoencoder back:
    diffusers loads identical tensors, and the pipeline draws genloom's images."""
    from diffusers import AutoencoderKL, DDPMPipeline
    from safetensors.torch import load_file

    dm.ddpm(tmp_path / "pipe", scheduler={"timestep_spacing": "trailing", "prediction_type": "v_prediction"})
    dm.vae(tmp_path / "vae")
    for name in ("pipe", "vae"):
        assert cli("import-diffusers", str(tmp_path / name), str(tmp_path / f"{name}-genloom")) == 0
        assert cli("export", str(tmp_path / f"{name}-genloom"), str(tmp_path / f"{name}-back"),
                   "--format", "diffusers") == 0
    assert "(diffusers: model_index.json, scheduler/scheduler_config.json" in capsys.readouterr().out
    for sub in ("unet", "."):
        original = tmp_path / ("pipe" if sub == "unet" else "vae") / sub / "diffusion_pytorch_model.safetensors"
        back = tmp_path / ("pipe-back" if sub == "unet" else "vae-back") / sub / original.name
        a, b = load_file(original), load_file(back)
        assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    pipe = DDPMPipeline.from_pretrained(tmp_path / "pipe-back")
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    assert np.abs(ours(load_checkpoint(tmp_path / "pipe-genloom"), "ddpm", 10) - theirs(pipe, 10)).max() <= 2e-5
    assert AutoencoderKL.from_pretrained(tmp_path / "vae-back").config.latent_channels == 4
    assert cli("export", str(tmp_path / "pipe-genloom"), str(tmp_path / "pipe-back"), "--format", "diffusers") == 2
    assert "--force" in capsys.readouterr().err


def test_export_format_diffusers_refuses_other_models(tmp_path, capsys):
    from genloom import DataInfo, build_model, load_config, save_model

    cfg = load_config(base={"model": {"name": "diffusion", "denoiser": {"name": "mlp"}}}, check_trainer=False)
    save_model(build_model(cfg, DataInfo(kind="points", shape=(2,))), tmp_path / "run")
    assert cli("export", str(tmp_path / "run"), str(tmp_path / "out"), "--format", "diffusers") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "only a model imported from diffusers" in err, err
    assert not (tmp_path / "out").exists()
