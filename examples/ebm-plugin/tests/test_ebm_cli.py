"""Every example config trains, samples and evaluates through the command line, and the
sigma-space samplers sample a run of the in-house diffusion model by name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]
QUICK = ["trainer.max_epochs=1", "trainer.enable_progress_bar=false", "sample.n=4",
         "checkpoint.every_n_epochs=0", "trainer.check_val_every_n_epoch=1"]


def genloom(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENLOOM_STRICT_PLUGINS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    result = subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True,
                            text=True, env=env, timeout=300)
    return result


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``genloom ARGS`` through the CLI's own entry point: (exit status, stdout, stderr)."""
    from genloom.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def evaluated(run: Path, capsys=None) -> dict:
    """``genloom evaluate RUN --json`` (in this process when given ``capsys``), checked."""
    if capsys is None:
        values = json.loads(ok(genloom("evaluate", str(run), "--metric", "losses", "--json")))
    else:
        code, out, err = in_process(capsys, "evaluate", str(run), "--metric", "losses", "--json")
        assert code == 0, err
        values = json.loads(out)
    assert set(values) == {"test/loss"} and np.isfinite(values["test/loss"]) and values["test/loss"] > 0
    return values


@pytest.mark.slow  # the digits run below keeps the CLI path in make test
def test_ebm_toy2d_trains_samples_and_evaluates(tmp_path, capsys):
    run = tmp_path / "toy"
    ok(genloom("train", "ebm-toy2d", *QUICK, "data.n=1024",
               "sample.options={steps_per_level: 2}", f"output_dir={run}"))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    out = tmp_path / "points.npy"
    ok(genloom("sample", str(run), "--n", "4", "--out", str(out), "steps_per_level=3"))
    points = np.load(out)
    assert points.shape == (4, 2) and np.isfinite(points).all()
    evaluated(run)
    # user errors are one line and exit 2 (in-process: the same click command, no
    # second interpreter start)
    png = tmp_path / "points.png"
    code, _, err = in_process(capsys, "sample", str(run), "--sampler", "ebm:heun", "--out", str(png))
    assert (code, err) == (2, "error: sampler Heun drives a Denoiser, but model EBM has none; pick "
                              "a sampler listed by 'genloom list samplers'")
    code, _, err = in_process(capsys, "sample", str(run), "--out", str(png), "step_size=-1")
    assert (code, err) == (2, "error: step_size must be a positive number, got -1")
    code, _, err = in_process(capsys, "sample", str(run), "--n", "4", "--out", str(png), "steps_per_level=3")
    assert code == 0, err
    assert Image.open(png).size == (512, 512)  # the points kind's scatter plot


def test_ebm_digits_trains_samples_and_evaluates(tmp_path, capsys):
    run = tmp_path / "digits"
    ok(genloom("train", "ebm-digits", *QUICK, "model.energy.channels=8",
               "sample.options={steps_per_level: 2}", f"output_dir={run}"))
    # sample and evaluate through the CLI's entry point in this process: the same
    # commands, reading the run from disk, without two more ~4 s interpreter starts
    png = tmp_path / "digits.png"
    code, _, err = in_process(capsys, "sample", str(run), "--n", "4", "--out", str(png),
                              "steps_per_level=2")
    assert code == 0, err
    image = np.asarray(Image.open(png))
    assert image.shape == (70, 70)  # 2 x 2 cells of 8x8 digits upscaled to 32 px, 2 px gaps
    assert image[2:34, 2:34].std() > 0  # not a blank cell
    evaluated(run, capsys)


def test_euler_ancestral_and_heun_sample_a_diffusion_run(tmp_path, capsys):
    import torch

    from genloom import load_checkpoint, load_config, train

    run = tmp_path / "diffusion"
    cfg = load_config(str(REPO / "examples" / "configs" / "diffusion-toy2d.yaml"),
                      [*QUICK, "data.n=512", "sample.options={steps: 2}", f"output_dir={run}"])
    train(cfg, echo=None)
    out = tmp_path / "euler.npy"
    # genloom sample RUN --sampler ebm:euler_ancestral steps=30, through the CLI's entry
    # point in this process (the interpreter start is what costs time here)
    code, _, err = in_process(capsys, "sample", str(run), "--sampler", "ebm:euler_ancestral",
                              "steps=30", "--n", "4", "--out", str(out))
    assert code == 0, err
    points = np.load(out)
    assert points.shape == (4, 2) and np.isfinite(points).all()
    model = load_checkpoint(run)  # the seed the CLI used (0) gives the same samples here
    again = model.sample(4, sampler="ebm:euler_ancestral", steps=30, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(again.data.numpy(), points)
    heun = model.sample(4, sampler="ebm:heun", steps=10, generator=torch.Generator().manual_seed(0))
    assert heun.data.shape == (4, 2) and torch.isfinite(heun.data).all()
