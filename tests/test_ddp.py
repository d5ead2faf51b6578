"""Two-process CPU DDP, run as a subprocess so no rank outlives the test."""

import os
import signal
import subprocess
import sys

from conftest import ROOT


def test_ddp_two_processes_on_cpu(tmp_path):
    genloom = os.path.join(os.path.dirname(sys.executable), "genloom")
    env = {k: v for k, v in os.environ.items() if k != "GENLOOM_RUN_DIR"}
    proc = subprocess.Popen(
        [genloom, "train", str(ROOT / "examples/configs/vae-digits.yaml"),
         "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp",
         "trainer.max_epochs=2", "sample.n=8"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any rank left behind goes too
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, err[-3000:]
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["vae-digits"], runs  # both ranks used rank 0's run directory
    run = tmp_path / "runs" / "vae-digits"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "samples" / "epoch-002.png").is_file()
    assert out.count("run: ") == 1  # only rank 0 reports
