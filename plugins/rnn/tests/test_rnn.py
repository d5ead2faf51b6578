"""The RNN plugin: stepwise state equals a full run, conformance, decoding, training."""

import pytest
import torch

from genloom import DataInfo, load_config
from genloom.build import build_model
from genloom_text.tokenizers import ByteTokenizer
from genloom_devkit.testing import Case, check_model, parametrize_with_checks
from genloom_rnn.network import RNN

BYTES = DataInfo(kind="tokens", shape=(17,), vocab_size=256, tokenizer=ByteTokenizer().state())
SMALL = ["model.hidden=32", "model.layers=2"]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stepwise_state_equals_a_full_sequence_run(cell):
    torch.manual_seed(0)
    net = RNN(40, cell=cell, hidden=24, layers=2).eval()
    tokens = torch.randint(0, 40, (3, 30))
    with torch.no_grad():
        full, full_state = net.step(tokens)
        cache, stepwise = None, []
        for i in range(tokens.shape[1]):
            logits, cache = net.step(tokens[:, i : i + 1], cache)
            stepwise.append(logits)
        torch.testing.assert_close(torch.cat(stepwise, 1), full, atol=1e-5, rtol=0)
        for a, b in zip(cache, full_state):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        _, chunked = net.step(tokens[:, 10:], net.step(tokens[:, :10])[1])
        for a, b in zip(chunked, full_state):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    assert len(cache) == (2 if cell == "lstm" else 1) and cache[0].shape == (3, 2, 24)


@parametrize_with_checks([
    Case("rnn", BYTES, [*SMALL, f"model.cell={cell}"], id=f"rnn-{cell}") for cell in ("lstm", "gru")
])
def test_rnn_conformance(case, check):
    check(case)


def test_bad_options_are_clear():
    from genloom.errors import ComponentError

    with pytest.raises(ComponentError, match="choose 'lstm' or 'gru'"):
        check_model("rnn", BYTES, ["model.cell=rnn"])
    with pytest.raises(ComponentError, match="tie_weights"):
        check_model("rnn", BYTES, ["model.hidden=32", "model.embedding=16"])


def test_decoding_samplers_drive_the_rnn():
    cfg = load_config(None, ["model.name=rnn", *SMALL, "model.cell=gru"], check_trainer=False)
    model = build_model(cfg, BYTES).eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    greedy = model.sample(1, sampler="greedy", prompt="ab", max_new_tokens=30, generator=g()).data
    beam = model.sample(1, sampler="beam", prompt="ab", max_new_tokens=30, beams=1, generator=g()).data
    assert torch.equal(beam, greedy)
    wide = model.sample(2, sampler="beam", prompt="ab", max_new_tokens=10, beams=4)
    assert wide.data.shape == (2, 12)


def test_trains_on_bytes_and_logs_bits_per_character(tmp_path):
    import csv

    from genloom import train

    corpus = tmp_path / "c.txt"
    corpus.write_text("héllo wörld, " * 200, encoding="utf-8")
    cfg = load_config(None, [
        "model.name=rnn", *SMALL, "data.name=text", f"data.path={corpus}", "data.tokenizer=byte",
        "data.block_size=16", "data.batch_size=16", f"output_dir={tmp_path / 'run'}",
        "trainer.max_steps=30", "trainer.enable_progress_bar=false", "sample.n=1",
        "sample.options.max_new_tokens=5",
    ])
    result = train(cfg, echo=None)
    rows = [r for r in csv.DictReader((result.run_dir / "metrics.csv").open()) if r.get("val/bpc")]
    loss, bpc = float(rows[-1]["val/loss"]), float(rows[-1]["val/bpc"])
    # 15 bytes per 13 characters: bits per character exceed bits per byte by that ratio
    assert bpc == pytest.approx(loss / 0.693147 * 15 / 13, rel=0.02)
