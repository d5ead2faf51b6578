"""Each example config trains, samples, evaluates and interpolates through the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: a few steps of a tiny flow: enough to exercise every command, quick on one thread
QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=1",
         "trainer.enable_progress_bar=false", "model.flow.layers=2", "model.flow.hidden=8",
         "data.batch_size=32", "sample.n=4", "checkpoint.every_n_epochs=0"]


def genloom(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENLOOM_RUN_DIR", None)
    done = subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # decodes the whole file, not only the header
        return image.size


@pytest.mark.parametrize("config,extra,sample_size,strip_size,metrics", [
    # digits: 2x2 grid of 8x8 images upscaled to 32x32 with 2-pixel gaps; the strip is
    # 3 rows (seeds 0-1, 1-2, 2-3) of 8 steps
    pytest.param("flow-digits", [], (70, 70), (274, 104), {"test/loss", "test/bits_per_dim"},
                 marks=pytest.mark.slow),  # the 12-layer digits flow; toy2d keeps the CLI path in make test
    # points: a 512x512 scatter plot either way
    ("flow-toy2d", ["data.n=512"], (512, 512), (512, 512), {"test/loss"}),
])
def test_example_config_through_the_cli(tmp_path, config, extra, sample_size, strip_size, metrics):
    run = tmp_path / "run"
    genloom("train", config, *QUICK, *extra, f"output_dir={run}")
    assert (run / "checkpoints" / "last.ckpt").is_file()

    genloom("sample", str(run), "--n", "4", "--out", str(tmp_path / "x.png"))
    assert png_size(tmp_path / "x.png") == sample_size

    result = json.loads(genloom("evaluate", str(run), "--json").stdout)
    assert metrics <= set(result)  # the flow's own parts, next to the core's sample metrics
    assert all(math.isfinite(v) for v in result.values())
    if "test/bits_per_dim" in result:  # 17 levels: log2(17) = 4.09 is a uniform guess
        assert 0.0 < result["test/bits_per_dim"] < 8.0

    genloom("interpolate", str(run), "--out", str(tmp_path / "strip.png"))
    assert png_size(tmp_path / "strip.png") == strip_size
