"""The nanoGPT speed-run options: QK-norm, squared ReLU, zero-init, logit soft-cap, Muon."""

import pytest
import torch
import torch.nn.functional as F

from genloom import DataInfo, OptimizerGroup, load_config
from genloom.build import build_model
from genloom.optim import build_optimizers
from genloom_text.muon import Muon, uses_muon
from genloom_text.tokenizers import CharTokenizer
from genloom_transformer import network
from genloom_transformer.network import Transformer

TOK = CharTokenizer(list("abcdefgh \n"))
INFO = DataInfo(kind="tokens", shape=(17,), vocab_size=TOK.vocab_size, tokenizer=TOK.state())
SMALL = ["model.width=32", "model.layers=2", "model.heads=4"]


def lm(*overrides):
    cfg = load_config(None, ["model.name=transformer", *SMALL, *overrides], check_trainer=False)
    return build_model(cfg, INFO), cfg


def test_qk_norm_gives_attention_unit_rms_queries_and_keys(monkeypatch):
    seen = []
    sdpa = F.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q, k))
        return sdpa(q, k, v, **kw)

    monkeypatch.setattr(network.F, "scaled_dot_product_attention", spy)
    tokens = torch.randint(0, 20, (2, 9))
    for qk_norm in (True, False):
        torch.manual_seed(0)
        net = Transformer(20, 16, width=32, layers=2, heads=4, qk_norm=qk_norm, positions="rotary")
        with torch.no_grad():
            for p in net.parameters():  # large weights: unnormalised q, k are far from unit RMS
                p.mul_(30)
            seen.clear()
            net.step(tokens)
        rms = torch.stack([t.pow(2).mean(-1).sqrt() for qk in seen for t in qk])
        if qk_norm:
            torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-3, rtol=0)
        else:
            assert (rms - 1).abs().max() > 1


def test_relu2_mlp_squares_a_relu():
    net = Transformer(20, 16, width=32, layers=1, heads=4, activation="relu2")
    act = net.blocks[0].mlp[1]
    x = torch.randn(5, 7)
    torch.testing.assert_close(act(x), F.relu(x) ** 2)
    assert net.blocks[0].mlp[0].out_features == 128  # one matrix, not SwiGLU's two


def test_zero_init_starts_every_block_as_the_identity():
    torch.manual_seed(0)
    net = Transformer(20, 16, width=32, layers=3, heads=4, zero_init=True, positions="rotary")
    tokens = torch.randint(0, 20, (2, 9))
    with torch.no_grad():
        logits, _ = net.step(tokens)
        torch.testing.assert_close(logits, net.head(net.ln_f(net.tok_emb(tokens))))
    torch.manual_seed(0)
    plain = Transformer(20, 16, width=32, layers=3, heads=4, positions="rotary")
    assert plain.blocks[0].attn.proj.weight.abs().sum() > 0


def test_logit_softcap_bounds_the_logits_as_cap_tanh():
    torch.manual_seed(0)
    capped = Transformer(20, 16, width=32, layers=1, heads=4, logit_softcap=2.0)
    plain = Transformer(20, 16, width=32, layers=1, heads=4)
    plain.load_state_dict(capped.state_dict())
    with torch.no_grad():
        for p in (plain.tok_emb.weight, capped.tok_emb.weight):
            p.mul_(50)  # logits far beyond the cap
        tokens = torch.randint(0, 20, (2, 9))
        raw, soft = plain.step(tokens)[0], capped.step(tokens)[0]
    assert raw.abs().max() > 4 and soft.abs().max() <= 2
    torch.testing.assert_close(soft, 2.0 * torch.tanh(raw / 2.0))


def test_every_option_together_keeps_the_kv_cache_exact():
    torch.manual_seed(0)
    net = Transformer(30, 32, width=32, layers=2, heads=4, positions="rotary", qk_norm=True,
                      activation="relu2", logit_softcap=5.0, tied=False).eval()
    tokens = torch.randint(0, 30, (2, 20))
    with torch.no_grad():
        full, _ = net.step(tokens)
        cache, chunks = None, []
        for lo, hi in ((0, 5), (5, 6), (6, 20)):
            logits, cache = net.step(tokens[:, lo:hi], cache)
            chunks.append(logits)
    torch.testing.assert_close(torch.cat(chunks, 1), full, atol=1e-5, rtol=0)


def test_muon_selected_by_name_steps_hidden_matrices_and_trains_a_tiny_model():
    torch.manual_seed(0)
    model, cfg = lm("model.tied=false", "model.positions=learned", "optim.name=muon",
                    "optim.scheduler=constant", "optim.lr=3e-3")
    opt = build_optimizers(cfg.optim, [OptimizerGroup("model", model)], 100)["optimizer"]
    assert isinstance(opt, Muon)
    muon = {n for n, p in model.named_parameters() if uses_muon(p)}
    assert muon == {n for n, p in model.named_parameters()
                    if n.endswith(("qkv.weight", "proj.weight", "mlp.0.weight", "mlp.2.weight"))}
    x = torch.randint(0, 10, (8, 17))
    first = model.losses({"x": x})["loss"].item()
    for _ in range(30):
        opt.zero_grad()
        model.losses({"x": x})["loss"].backward()
        opt.step()
    assert model.losses({"x": x})["loss"].item() < 0.6 * first


@pytest.mark.parametrize("override, message", [
    ("model.activation=relu3", "activation='relu3': choose one of"),
    ("model.logit_softcap=-1", "logit_softcap=-1.0 must be >= 0"),
    ("model.qk_norm=maybe", "model.qk_norm"),
    ("optim.name=muonn", "did you mean 'muon'"),
    ("optim.init_args={muon_lr: -1}", "muon_lr and weight_decay must be >= 0"),
])
def test_bad_option_values_are_one_line_exit_2(tmp_path, capsys, override, message):
    from genloom.cli import main

    extra = ["optim.name=muon"] if "muon_lr" in override else []
    with pytest.raises(SystemExit) as exit_:
        main(["train", "transformer-pydoc", f"output_dir={tmp_path}/run", *SMALL,
              "trainer.max_steps=1", *extra, override])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and message in err[0], err
