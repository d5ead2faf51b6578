"""The transformer plugin: KV cache exactness, conformance, decoding, CLI end to end."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genloom import DataInfo, load_config
from genloom.build import build_model
from genloom_text.tokenizers import CharTokenizer
from genloom_devkit.testing import Case, parametrize_with_checks, run_cli_in_process
from genloom_transformer.network import Transformer

TOK = CharTokenizer(list("abcdefgh \n"))
INFO = DataInfo(kind="tokens", shape=(17,), vocab_size=TOK.vocab_size, tokenizer=TOK.state())
SMALL = ["model.width=32", "model.layers=2", "model.heads=4"]
CONFIG = str(Path(__file__).resolve().parents[3] / "examples" / "configs" / "transformer-pydoc.yaml")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          timeout=300)


def lm(*overrides, info=INFO):
    cfg = load_config(None, ["model.name=transformer", *SMALL, *overrides], check_trainer=False)
    return build_model(cfg, info).eval()


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_cached_logits_equal_uncached_at_every_position(positions):
    torch.manual_seed(0)
    net = Transformer(50, 64, width=48, layers=3, heads=4, positions=positions).eval()
    tokens = torch.randint(0, 50, (3, 40))
    with torch.no_grad():
        full, _ = net.step(tokens)
        cache, stepwise = None, []
        for i in range(tokens.shape[1]):  # one token at a time
            logits, cache = net.step(tokens[:, i : i + 1], cache)
            stepwise.append(logits)
        torch.testing.assert_close(torch.cat(stepwise, 1), full, atol=1e-5, rtol=0)
        cache, chunks = None, []
        for lo, hi in ((0, 7), (7, 8), (8, 23), (23, 40)):  # chunks after a cache: masked
            logits, cache = net.step(tokens[:, lo:hi], cache)
            chunks.append(logits)
        torch.testing.assert_close(torch.cat(chunks, 1), full, atol=1e-5, rtol=0)
    assert cache[0][0].shape == (3, 4, 40, 12)


def test_context_length_is_enforced_and_weights_are_tied():
    net = Transformer(10, 8, width=16, layers=1, heads=2)
    assert net.head.weight is net.tok_emb.weight
    _, cache = net.step(torch.zeros(1, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="context length 8"):
        net.step(torch.zeros(1, 1, dtype=torch.long), cache)


def test_rotary_has_no_position_weights_and_dropout_is_applied_in_training():
    rotary = lm("model.positions=rotary")
    assert rotary.net.pos_emb is None and not any("rope" in k for k in rotary.state_dict())
    model = lm("model.dropout=0.5").train()
    x = torch.randint(0, 10, (2, 17))
    assert not torch.equal(model.losses({"x": x})["loss"], model.losses({"x": x})["loss"])


@parametrize_with_checks([
    *(Case("transformer", INFO, [*SMALL, f"model.positions={p}"], id=f"transformer-{p}")
      for p in ("learned", "rotary")),
    Case("transformer", DataInfo(kind="tokens", shape=(17,), vocab_size=TOK.vocab_size, num_classes=3,
                                 tokenizer=TOK.state()),
         [*SMALL, "model.conditional=true"], id="transformer-conditional"),
])
def test_transformer_conformance(case, check):
    check(case)


def test_greedy_equals_beam_1_and_top_k_1():
    model = lm()
    g = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    greedy = model.sample(1, sampler="greedy", prompt="ab", max_new_tokens=40, generator=g(0)).data
    beam = model.sample(1, sampler="beam", prompt="ab", max_new_tokens=40, beams=1, generator=g(0)).data
    topk = model.sample(1, prompt="ab", max_new_tokens=40, top_k=1, generator=g(5)).data
    assert torch.equal(beam, greedy) and torch.equal(topk, greedy)
    wide = model.sample(3, sampler="beam", prompt="ab", max_new_tokens=20, beams=3)
    scores = wide.extras["scores"].tolist()
    assert scores == sorted(scores, reverse=True) and len(set(map(tuple, wide.data.tolist()))) == 3


def test_generation_past_the_context_length():
    model = lm()  # context 16
    out = model.sample(2, prompt="abc", max_new_tokens=50, generator=torch.Generator().manual_seed(0))
    assert out.data.shape == (2, 53)


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = lm().train()
    x = torch.randint(0, 10, (8, 17))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model.losses({"x": x})["loss"].item()
    for _ in range(30):
        opt.zero_grad()
        model.losses({"x": x})["loss"].backward()
        opt.step()
    assert model.losses({"x": x})["loss"].item() < 0.8 * first


# -- class-conditional ---------------------------------------------------------------

LABELLED = DataInfo(kind="tokens", shape=(17,), vocab_size=TOK.vocab_size, tokenizer=TOK.state(),
                    num_classes=3)


def test_unconditional_transformer_ignores_labels_and_keeps_its_weights():
    torch.manual_seed(0)
    model = lm(info=LABELLED).train()  # labelled data, but conditional=false
    torch.manual_seed(0)
    plain = Transformer(TOK.vocab_size, 16, width=32, layers=2, heads=4)
    assert model.net.cls_emb is None
    assert {k: v.shape for k, v in model.net.state_dict().items()} == {
        k: v.shape for k, v in plain.state_dict().items()}
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in model.net.state_dict().items())
    x = torch.randint(0, 10, (4, 17))
    with_labels = model.losses({"x": x, "y": torch.tensor([0, 1, 2, 0])})["loss"]
    assert torch.equal(with_labels, model.losses({"x": x})["loss"])


def test_conditional_transformer_learns_class_dependent_text():
    torch.manual_seed(0)
    model = lm("model.conditional=true", "model.layers=1", info=LABELLED).train()
    assert model.conditional and model.net.cls_emb.num_embeddings == 3
    texts = [" " + "a" * 16, " " + "bc" * 8, " " + "fh" * 8]  # one text per class
    x = torch.tensor([TOK.encode(t) for t in texts]).repeat(4, 1)
    y = torch.arange(3).repeat(4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(80):
        opt.zero_grad()
        model.losses({"x": x, "y": y})["loss"].backward()
        opt.step()
    model.eval()
    cond = torch.tensor([2, 0, 1, 1, 0, 2])
    out = model.sample(6, prompt=" ", max_new_tokens=8, cond=cond,
                       generator=torch.Generator().manual_seed(0), temperature=0.5)
    rows = [TOK.decode(r.tolist()) for r in out.data]
    assert rows == [texts[int(c)][:9] for c in cond]
    with pytest.raises(Exception, match="class-conditional"):
        model.sample(2, prompt=" ", max_new_tokens=2)
    with torch.no_grad():  # validation reads each row's label too: the trained texts are cheap
        right = model.validation_losses({"x": x, "y": y})["loss"]
        wrong = model.validation_losses({"x": x, "y": (y + 1) % 3})["loss"]
        sums = model.validation_sums({"x": x, "y": y})
    assert float(right) < 0.5 * float(wrong)
    assert float(sums["nats"]) / float(sums["tokens"]) == pytest.approx(float(right), rel=1e-5)



def test_conditional_needs_labelled_data():
    from genloom.errors import ConfigError

    with pytest.raises(ConfigError, match="needs token data with class labels"):
        lm("model.conditional=true")


# -- end to end through the CLI ------------------------------------------------------
# One sample streams from a new process, as a user runs it; the other commands run in
# this process (run_cli_in_process), which spares each a new interpreter importing torch.

TINY = ["model.width=32", "model.layers=1", "model.heads=2", "data.block_size=32", "data.batch_size=16",
        "trainer.max_steps=40", "trainer.val_check_interval=10", "trainer.limit_val_batches=4",
        "sample.n=1", "sample.options.max_new_tokens=10", "checkpoint.every_n_epochs=0"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    a = root / "a.txt"
    a.write_text("def add(a, b):\n    return a + b\n\n" * 300 + "xyzXYZ!?", encoding="utf-8")
    b = root / "b.txt"
    b.write_text("a bad dab, a bed fed\n" * 300, encoding="utf-8")  # fewer characters than a
    c = root / "c.txt"
    c.write_text("a cab\n" * 300, encoding="utf-8")  # 'c' is not in a's vocabulary
    return a, b, c


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpora):
    run = tmp_path_factory.mktemp("gpt") / "run"
    result = run_cli_in_process("train", CONFIG, f"output_dir={run}", f"data.path={corpora[0]}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def test_training_logs_loss_perplexity_and_bpc(trained):
    rows = list(csv.DictReader((trained / "metrics.csv").open()))
    val = [r for r in rows if r.get("val/bpc")]
    assert val and all(r["val/ppl"] and r["val/loss"] for r in val)
    r = val[-1]
    assert float(r["val/ppl"]) == pytest.approx(torch.tensor(float(r["val/loss"])).exp().item(), rel=1e-3)
    # char tokenizer: one token per character, so bpc = loss / ln 2
    assert float(r["val/bpc"]) == pytest.approx(float(r["val/loss"]) / 0.693147, rel=1e-3)
    assert (trained / "samples" / "epoch-001.txt").read_text().startswith("def ")


def test_cli_streams_the_prompts_continuation(trained, tmp_path):
    args = ["sample", str(trained), "--prompt", "def ", "--max-new-tokens", "25", "--seed", "3"]
    first = run_cli(*args)  # a new process
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("def ") and len(first.stdout) == len("def ") + 25 + 1
    other = run_cli_in_process(*args[:-1], "4", "--n", "2", "top_p=0.9", "repetition_penalty=1.2")
    assert other.returncode == 0 and other.stdout.count("-" * 40) == 1
    out = tmp_path / "s.txt"
    written = run_cli_in_process(*args, "--out", str(out))
    assert written.returncode == 0 and out.read_text(encoding="utf-8") == first.stdout  # same seed
    beam = run_cli_in_process("sample", str(trained), "--sampler", "beam", "beams=2", "--n", "2",
                              "--prompt", "def ", "--max-new-tokens", "8", "stop=[':']")
    assert beam.returncode == 0 and beam.stdout.startswith("def "), beam.stderr
    bad = run_cli_in_process("sample", str(trained), "--prompt", "déf")
    assert bad.returncode == 2 and "'é'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    cond = run_cli_in_process("sample", str(trained), "--prompt", "def ", "--cond", "3")
    assert cond.returncode == 2 and "not conditional" in cond.stderr


def test_text_samples_get_a_sidecar_record_and_reproduce(trained, tmp_path):
    import json

    out = tmp_path / "s.txt"
    args = ["sample", str(trained), "--prompt", "def ", "--max-new-tokens", "12", "--seed", "5", "--n", "2"]
    streamed = run_cli_in_process(*args)
    assert run_cli_in_process(*args, "--out", str(out), "top_p=0.9").returncode == 0
    assert out.read_text(encoding="utf-8").startswith("def ")  # the user's text, nothing added
    record = json.loads((tmp_path / "s.txt.genloom.json").read_text())
    assert (record["prompt"], record["n"], record["kind"]) == ("def ", 2, "tokens")
    assert record["options"] == {"top_p": 0.9, "prompt": "def ", "max_new_tokens": 12}
    assert (trained / "samples" / "epoch-001.txt.genloom.json").is_file()  # train-time samples too
    shown = run_cli_in_process("inspect", str(out))
    assert shown.returncode == 0 and "prompt:             def " in shown.stdout
    again = run_cli_in_process("reproduce", str(out))
    assert again.returncode == 0 and again.stdout == "reproduced: identical\n", again.stderr
    out.write_text(streamed.stdout.replace("def ", "dfe ", 1), encoding="utf-8")
    changed = run_cli_in_process("reproduce", str(out))
    assert changed.returncode == 1 and "not reproduced" in changed.stderr


def test_fine_tuning_keeps_the_checkpoints_tokenizer(trained, corpora, tmp_path):
    from genloom.checkpoints import read_weights

    run = tmp_path / "tuned"
    result = run_cli_in_process("train", CONFIG, f"output_dir={run}", f"data.path={corpora[1]}",
                                f"init_from={trained}", *TINY[:-4], "trainer.max_steps=10", "sample.every_n_epochs=0")
    assert result.returncode == 0, result.stderr[-3000:]
    old, _ = read_weights(trained)
    new, _ = read_weights(run)
    assert new["info"]["tokenizer"] == old["info"]["tokenizer"]  # not refit on b.txt
    assert "X" in new["info"]["tokenizer"]["chars"]
    evaluated = run_cli_in_process("evaluate", str(run), "--json")
    assert evaluated.returncode == 0 and "test/bpc" in evaluated.stdout, evaluated.stderr
    refused = run_cli_in_process("train", CONFIG, f"output_dir={tmp_path / 'c'}", f"data.path={corpora[2]}",
                                 f"init_from={trained}", *TINY[:-4], "trainer.max_steps=1")
    assert refused.returncode == 2 and "characters 'c' are not in this model's vocabulary" in refused.stderr


def test_bias_false_drops_every_bias_and_keeps_the_cache_exact():
    with_bias = Transformer(20, 16, width=32, layers=2, heads=4)
    net = Transformer(20, 16, width=32, layers=2, heads=4, bias=False).eval()
    names = [n for n, _ in net.named_parameters()]
    assert not [n for n in names if n.endswith("bias")]
    assert [n for n, _ in with_bias.named_parameters() if n.endswith("bias")]
    # per layer: ln1, ln2 (32 each), qkv (96), proj (32), mlp (128, 32); plus ln_f
    assert sum(p.numel() for p in with_bias.parameters()) - sum(p.numel() for p in net.parameters()) \
        == 2 * (2 * 32 + 3 * 32 + 32 + 4 * 32 + 32) + 32
    tokens = torch.randint(0, 20, (2, 10))
    with torch.no_grad():
        full, _ = net.step(tokens)
        first, cache = net.step(tokens[:, :4])
        rest, _ = net.step(tokens[:, 4:], cache)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=0)
    assert lm("model.bias=false").net.ln_f.bias is None
