"""Using a trained model needs no Lightning: sampling, evaluating, interpolating and
exporting (CLI and Python) must not import lightning or what comes with it.

Each command runs in a fresh interpreter, since this test process imports Lightning
to train the model."""

import json
import os
import subprocess
import sys

import pytest

from genloom import load_config, train

HEAVY = ("lightning", "lightning_fabric", "pytorch_lightning", "torchmetrics")

# runs genloom.cli.main(argv) and prints its exit status and the heavy modules imported
CLI = """
import json, sys
from genloom.cli import main
try:
    main(sys.argv[1:])
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
""" % (HEAVY,)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("nolightning")
    cfg = load_config(None, [
        "model.name=vae", "data.name=digits", f"output_dir={root / 'run'}", "trainer.max_steps=3",
        "trainer.enable_progress_bar=false", "sample.every_n_epochs=0",
    ])
    train(cfg, echo=None)
    return root / "run"


def _python(code: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", ["sample", "evaluate", "interpolate", "export"])
def test_cli_commands_on_a_trained_model_import_no_lightning(run, command, tmp_path):
    args = {
        "sample": ["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")],
        "evaluate": ["evaluate", str(run), "--json"],
        "interpolate": ["interpolate", str(run), "--seeds", "0,1", "--steps", "3",
                        "--out", str(tmp_path / "i.png")],
        "export": ["export", str(run), str(tmp_path / "export")],
    }[command]
    result = _python(CLI, *args)
    # evaluate computes FID/KID with torchmetrics (genloom-eval[metrics]) on purpose; it needs
    # no Lightning, so it may import torchmetrics and nothing else of HEAVY
    allowed = ["torchmetrics"] if command == "evaluate" else []
    assert result["code"] == 0
    assert [m for m in result["heavy"] if m.split(".")[0] not in allowed] == []


def test_load_checkpoint_and_sample_import_no_lightning(run):
    code = """
import json, sys, torch
import genloom
model = genloom.load_checkpoint(sys.argv[1])
samples = model.sample(2, generator=torch.Generator().manual_seed(0))
print(json.dumps({"shape": list(samples.data.shape),
                  "heavy": sorted(m for m in sys.modules if m.split(".")[0] in %r)}))
""" % (HEAVY,)
    assert _python(code, str(run)) == {"shape": [2, 1, 8, 8], "heavy": []}
