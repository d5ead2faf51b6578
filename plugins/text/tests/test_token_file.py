"""Token files: tokenised once, read by memory map in random windows that differ per
reader (DDP process x loader worker) and per epoch, repeatably; bad files exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genloom.errors import ConfigError
from genloom_text.tokenfile import open_tokens, write_token_file
from genloom_text.token_data import RandomTokenWindows, TokenFile


@pytest.fixture
def token_file(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("".join(f"line {i}: é\n" for i in range(3000)), encoding="utf-8")
    write_token_file(text, tmp_path / "corpus.bin", "byte")
    return tmp_path / "corpus.bin"


def test_the_file_holds_the_texts_bytes(token_file):
    ids, header = open_tokens(token_file)
    assert isinstance(ids, np.memmap) and header["dtype"] == "uint16" and header["vocab_size"] == 256
    text = (token_file.parent / "corpus.txt").read_bytes()
    assert header["count"] == len(text) and bytes(ids.astype(np.uint8)) == text


def test_char_tokenizer_round_trips(tmp_path):
    from genloom_text.tokenizers import tokenizer_from_state

    (tmp_path / "t.txt").write_text("hello world\n" * 50)
    header = write_token_file(tmp_path / "t.txt", tmp_path / "t.bin", "char")
    ids, _ = open_tokens(tmp_path / "t.bin")
    assert tokenizer_from_state(header["tokenizer"]).decode(ids.tolist()) == "hello world\n" * 50


def windows(path, index, count, epoch=0, seed=0):
    ds = RandomTokenWindows(str(path), 0, 30000, 16, "uint16", seed)
    ds.set_epoch(epoch)
    import genloom_text.token_data as td

    original = td.process_share
    td.process_share = lambda: (index, count)
    try:
        return [w["x"] for w in ds]
    finally:
        td.process_share = original


def starts(path, ws):
    ids, _ = open_tokens(path)
    table = {bytes(ids[i:i + 17].astype(np.uint8)): i for i in range(len(ids) - 17)}
    return [table[bytes(w.numpy().astype(np.uint8))] for w in ws]


def test_readers_draw_inside_their_own_parts(token_file):
    zero, one = windows(token_file, 0, 2), windows(token_file, 1, 2)
    assert len(zero) == len(one) == (15000 - 1) // 16  # the same count on every reader
    assert max(starts(token_file, zero)) + 17 <= 15000 <= min(starts(token_file, one))  # disjoint text
    # repeatable, fresh offsets each epoch, another seed other offsets
    assert all(torch.equal(a, b) for a, b in zip(zero, windows(token_file, 0, 2)))
    assert not all(torch.equal(a, b) for a, b in zip(zero, windows(token_file, 0, 2, epoch=1)))
    assert not all(torch.equal(a, b) for a, b in zip(zero, windows(token_file, 0, 2, seed=1)))


def test_an_epoch_does_not_hold_an_offset_per_window(token_file):
    # a part of 10**12 ids: drawing the epoch's 7.8e9 offsets at once needs 62 GB
    ds = RandomTokenWindows(str(token_file), 0, 10**12, 128, "uint16", 0)
    ds.set_epoch(0)
    assert next(iter(ds))["x"].dtype == torch.int64


def _file_pages_kb():
    try:
        status = open("/proc/self/status").read()
    except OSError:
        return None
    rows = [line.split()[1] for line in status.splitlines() if line.startswith("RssFile:")]
    return int(rows[0]) if rows else None


@pytest.mark.skipif(_file_pages_kb() is None, reason="needs Linux's /proc/self/status")
def test_reading_windows_does_not_grow_the_process(tmp_path):
    # a memory map would keep every window's neighbouring pages resident (16 MB here)
    (tmp_path / "big.txt").write_bytes(b"abcdefgh" * (1 << 21))
    write_token_file(tmp_path / "big.txt", tmp_path / "big.bin", "byte")
    ds = RandomTokenWindows(str(tmp_path / "big.bin"), 0, 1 << 24, 64, "uint16", 0)
    before = _file_pages_kb()
    for _, _window in zip(range(3000), ds):
        pass
    assert _file_pages_kb() - before < 4096


def test_a_worker_gets_the_path_not_a_copy_of_the_ids(token_file):
    import pickle

    ds = RandomTokenWindows(str(token_file), 0, 30000, 16, "uint16", 0)
    next(iter(ds))
    assert len(pickle.dumps(ds)) < 1000


def test_the_dataset_trains(tmp_path, token_file):
    from genloom import load_config, train

    cfg = load_config(None, ["data.name=token-file", f"data.path={token_file}", "data.block_size=16",
                             "model.name=transformer", "model.width=16", "model.layers=1", "model.heads=2",
                             "trainer.max_epochs=1", "trainer.limit_train_batches=3", "data.num_workers=1",
                             "trainer.limit_val_batches=2", "sample.n=0", "checkpoint.every_n_epochs=0",
                             f"output_dir={tmp_path}/run"])
    result = train(cfg, echo=None)
    assert result.model.info.tokenizer == {"name": "byte"} and result.checkpoint.is_file()


def test_bad_token_files_exit_2(tmp_path, token_file, cli):
    assert cli("tokenize", str(tmp_path / "missing.txt"), str(tmp_path / "o.bin")).returncode == 2
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    r = cli("tokenize", str(tmp_path / "latin1.txt"), str(tmp_path / "o.bin"))
    assert r.returncode == 2 and "not UTF-8" in r.stderr and not (tmp_path / "o.bin").exists()
    with open(token_file, "ab") as f:
        f.write(b"\0")  # the size no longer matches the header
    with pytest.raises(ConfigError, match="header says"):
        TokenFile(type("C", (), {"path": str(token_file), "block_size": 8})())
    (tmp_path / "x.bin").write_bytes(b"\0\0")
    with pytest.raises(ConfigError, match="does not exist"):
        TokenFile(type("C", (), {"path": str(tmp_path / "x.bin"), "block_size": 8})())


def test_tokenize_command_prints_its_header_as_json(tmp_path, cli):
    (tmp_path / "t.txt").write_text("abc\n")
    r = cli("tokenize", str(tmp_path / "t.txt"), str(tmp_path / "t.bin"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["count"] == 4


def test_a_token_file_is_synced_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    """A failed flush to disk (here the fsync) leaves the token file that was there and no part file."""
    import os

    text = tmp_path / "corpus.txt"
    text.write_text("hello world\n" * 50, encoding="utf-8")
    out = tmp_path / "corpus.tokens"
    out.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_token_file(text, out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.tokens", "corpus.txt"]
