"""Tiny runs trained once per session: a VAE on toy2d points, a conditional VAE on digit
images, a character transformer; and a TestClient over all three."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "examples" / "configs"
QUICK = ["trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0",
         "checkpoint.last_every_seconds=0"]
RUNS = {
    "vae-toy2d": ["vae-toy2d.yaml", "data.n=128", "trainer.max_epochs=1"],
    "cvae-digits": ["cvae-digits.yaml", "trainer.max_steps=3", "trainer.limit_val_batches=1"],
    "gpt-tiny": ["transformer-pydoc.yaml", "model.width=32", "model.layers=1", "model.heads=2",
                 "data.block_size=32", "data.batch_size=16", "trainer.max_steps=5",
                 "trainer.val_check_interval=5", "trainer.limit_val_batches=1", "sample.n=0"],
}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "a.txt"
    path.write_text("def add(a, b):\n    return a + b\n\n" * 300, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("serve-runs")
    out = {}
    for name, (config, *overrides) in RUNS.items():
        extra = [f"data.path={corpus}"] if name == "gpt-tiny" else []
        result = run_cli("train", str(CONFIGS / config), f"output_dir={root / name}", *QUICK, *overrides, *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        out[name] = root / name
    return out


@pytest.fixture(scope="session")
def served(runs):
    from genloom_serve.models import load_models

    return load_models([str(p) for p in runs.values()])


@pytest.fixture
def make_client(served, tmp_path):
    """``make_client(token=..., ratings=...)``: a TestClient over the served models."""
    from fastapi.testclient import TestClient

    from genloom_serve.app import create_app

    clients = []

    def make(**kwargs):
        kwargs.setdefault("ratings", tmp_path / "ratings.jsonl")
        client = TestClient(create_app(served, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
