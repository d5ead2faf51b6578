"""Two-process CPU DDP for every in-repo family, each as a subprocess (no rank can
outlive the test). Each run adds ``ddp_probe.RankMetrics`` by class path: both
processes write the validation metrics they hold, which must agree (synced), and what
the trainer actually ran with (precision, accumulation), which must be what the config
asked for."""

import json
import math
import os
import sys

import pytest

from genloom import load_checkpoint

from support import ROOT, run_group, train_two_ranks

TINY = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2",
        "sample.n=0", "checkpoint.every_n_epochs=0", "output_dir=run"]

FAMILIES = {
    "vae": ("vae-digits.yaml", ["model.latent_dim=4", "trainer.precision=bf16-mixed"],
            "bf16-mixed", 1),
    "gan": ("gan-digits.yaml", ["model.latent_dim=8", "model.generator.channels=8",
                                "model.discriminator.channels=8", "optim.accumulate=2"], "32-true", 1),
    "diffusion": ("diffusion-toy2d.yaml", ["data.n=1024", "model.denoiser.hidden=16",
                                           "trainer.check_val_every_n_epoch=1", "optim.accumulate=2"],
                  "32-true", 2),
    "transformer": ("transformer-pydoc.yaml", ["model.width=16", "model.layers=1", "model.heads=2",
                                               "data.block_size=16", "trainer.val_check_interval=1.0",
                                               "trainer.precision=bf16-mixed"], "bf16-mixed", 1),
    "rnn": ("lstm-pydoc.yaml", ["model.hidden=16", "model.layers=1", "data.block_size=16",
                                "trainer.val_check_interval=1.0"], "32-true", 1),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_trains_on_two_processes_with_synced_metrics(family, tmp_path):
    config, overrides, precision, accumulate = FAMILIES[family]
    probe = tmp_path / "probe"
    code, out, err = train_two_ranks(
        tmp_path, config, *TINY, *overrides,
        f"trainer.callbacks=[{{class_path: ddp_probe.RankMetrics, init_args: {{out: {probe}}}}}]",
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
             "GENLOOM_ALLOW_CLASS_PATHS": "ddp_probe"},
    )
    assert code == 0, err[-3000:]
    ranks = [[json.loads(line) for line in (probe / f"rank-{r}.jsonl").read_text().splitlines()]
             for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) >= 1
    for mine, theirs in zip(*ranks):
        assert mine == theirs  # every process holds the same, all-reduced values
        assert mine["world"] == 2
        assert mine["precision"] == precision and mine["accumulate"] == accumulate
        values = [v for k, v in mine.items() if k.startswith("val/")]
        assert values and all(isinstance(v, float) and math.isfinite(v) for v in values)
    model = load_checkpoint(tmp_path / "run")  # rank 0's checkpoint of the synced weights
    assert all(bool(p.isfinite().all()) for p in model.parameters())


@pytest.mark.slow
def test_torchrun_starts_both_processes_into_one_run(tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    genloom = os.path.join(os.path.dirname(sys.executable), "genloom")
    code, out, err = run_group(
        [torchrun, "--standalone", "--nproc_per_node=2", genloom, "train",
         str(ROOT / "examples/configs/vae-digits.yaml"), "trainer.accelerator=cpu", "trainer.devices=2",
         "trainer.strategy=ddp", *TINY, "model.latent_dim=4"], tmp_path)
    assert code == 0, err[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # one directory, not run and runs/...
    assert out.count("run: ") == 1
    assert load_checkpoint(tmp_path / "run") is not None
