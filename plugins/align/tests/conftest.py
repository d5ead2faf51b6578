"""Tiny language models saved as exports, built in-process (no training run)."""

from pathlib import Path

import pytest

from genloom import load_config, save_model
from genloom.build import build_dataset, build_model

CORPUS = ("the cat sat on the mat. a bat and a rat ate the hat.\n" * 40
          + "abba baab aabb bbaa\n" * 20)
TINY = {
    "transformer": ["model.name=transformer", "model.width=32", "model.layers=2", "model.heads=4"],
    "rnn": ["model.name=rnn", "model.hidden=32", "model.layers=1"],
}


def make_lm(tmp: Path, family: str = "transformer", seed: int = 0, block: int = 32) -> Path:
    import torch

    corpus = tmp / "corpus.txt"
    if not corpus.exists():
        corpus.write_text(CORPUS, encoding="utf-8")
    cfg = load_config(None, ["data.name=text", f"data.path={corpus}", f"data.block_size={block}",
                             "data.batch_size=8", f"seed={seed}", *TINY[family]], check_trainer=False)
    torch.manual_seed(seed)
    dataset = build_dataset(cfg)
    model = build_model(cfg, dataset.info)
    return save_model(model, tmp / f"{family}-{seed}")


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    return make_lm(tmp_path_factory.mktemp("lm"))


@pytest.fixture(scope="session")
def tiny_rnn(tmp_path_factory) -> Path:
    return make_lm(tmp_path_factory.mktemp("rnn"), "rnn")
