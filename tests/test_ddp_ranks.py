"""Two CPU DDP processes train on different data with different noise, and start from
the same weights (run as subprocesses, as in test_ddp.py; ``ddp_probe.RankDraws``
records what each process saw)."""

import json
import os

import pytest

from support import ROOT, run_group, train_two_ranks

PROBE_ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
             "GENLOOM_ALLOW_CLASS_PATHS": "ddp_probe"}
TINY = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=0",
        "sample.n=0", "checkpoint.every_n_epochs=0", "output_dir=run"]


def probe(out):
    return f"trainer.callbacks=[{{class_path: ddp_probe.RankDraws, init_args: {{out: {out}}}}}]"


def draws(out):
    return [[json.loads(line) for line in (out / f"draws-{r}.jsonl").read_text().splitlines()]
            for r in (0, 1)]


def test_two_processes_read_different_text_and_draw_different_noise(tmp_path):
    out = tmp_path / "probe"
    code, _, err = train_two_ranks(
        tmp_path, "transformer-pydoc.yaml", *TINY, probe(out), "model.width=16", "model.layers=1",
        "model.heads=2", "data.block_size=16", "data.batch_size=8", env=PROBE_ENV)
    assert code == 0, err[-3000:]
    zero, one = draws(out)
    assert len(zero) == len(one) == 2
    for a, b in zip(zero, one):
        assert a["first"] != b["first"] and a["sum"] != b["sum"]  # each its own random windows
        assert a["noise"] != b["noise"]  # each its own training noise
        assert a["weights"] == pytest.approx(b["weights"], rel=1e-9)  # the same model


def test_flow_actnorm_starts_equal_on_every_process(tmp_path):
    out = tmp_path / "probe"
    genloom = os.path.join(os.path.dirname(os.sys.executable), "genloom")
    code, _, err = run_group(
        [genloom, "train", "flow-digits", "trainer.accelerator=cpu", "trainer.devices=2",
         "trainer.strategy=ddp", *TINY, probe(out), "model.flow.layers=2", "model.flow.hidden=8",
         "model.flow.conv1x1=false"], tmp_path, PROBE_ENV)
    assert code == 0, err[-3000:]
    zero, one = draws(out)
    assert zero[0]["sum"] != one[0]["sum"]  # each process initialises from its own batch...
    for a, b in zip(zero, one):  # ...and yet the weights are equal (ActNorm's statistics are shared)
        assert a["weights"] == pytest.approx(b["weights"], rel=1e-9)
