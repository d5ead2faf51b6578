"""kNN-LM retrieval with the transformer: weight 0 is the base model exactly, weight 1 on a
memorised corpus reproduces the training text, the datastore is built by a command,
saved as safetensors and checked when loaded."""

from pathlib import Path

import pytest
import torch

from genloom import load_config
from genloom.build import build_dataset, build_model
from genloom.data.splits import DataSplits
from genloom_text.retrieval import (
    KNNGenerator, build_datastore, knn_token_nats, load_datastore, save_datastore,
)

CORPUS = ("def add(a, b):\n    return a + b\n\nclass Point:\n    x: int = 0\n    y: int = 0\n\n"
          "import sys\nprint(sys.argv[1:])\n\nwhile True:\n    break\n\n") * 20
SMALL = ["model.name=transformer", "model.width=32", "model.layers=1", "model.heads=2", "data.name=text",
         "data.block_size=48", "data.windows=fixed"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("knn")
    text = root / "corpus.txt"
    text.write_text(CORPUS, encoding="utf-8")
    cfg = load_config(None, [*SMALL, f"data.path={text}"], check_trainer=False)
    torch.manual_seed(0)
    dataset = build_dataset(cfg)
    model = build_model(cfg, dataset.info).eval()
    train = DataSplits(dataset, cfg.data).split("train").tokens
    store = build_datastore(model, train)
    path = save_datastore(store, root / "knn.safetensors")
    return model, train, store, path, dataset.tokenizer


def _draw(model, sampler, seed, **options):
    return model.sample(3, sampler=sampler, generator=torch.Generator().manual_seed(seed),
                        prompt="def ", max_new_tokens=30, **options).data


def test_every_training_position_is_a_key(setup):
    model, train, store, path, _ = setup
    assert len(store) == len(train) - 1 and store.keys.shape[1] == 32
    assert torch.equal(store.values, train[1:])  # value = the token that followed
    loaded = load_datastore(path, 32, model.info.vocab_size)
    assert torch.allclose(loaded.keys, store.keys, atol=2e-3)  # stored as float16


def test_weight_zero_is_the_base_model_exactly(setup):
    model, train, store, path, _ = setup
    base = _draw(model, "multinomial", 5)
    assert torch.equal(_draw(model, "multinomial", 5, knn_weight=0.0, knn_store=str(path)), base)
    assert not torch.equal(_draw(model, "multinomial", 5, knn_weight=0.5, knn_store=str(path)), base)
    x = train[None, :49]
    logits, _ = model.net.step(x[:, :-1])
    wrapped, _ = KNNGenerator(model.net, store, 0.0, 16).step(x[:, :-1])
    assert torch.equal(wrapped[:, -1], logits[:, -1])
    nats = knn_token_nats(model, store, x, 0.0, 16)
    assert torch.allclose(nats, model.token_nats(x), atol=1e-5)


def test_weight_one_reproduces_the_training_continuation(setup):
    model, train, store, path, tok = setup
    text = tok.decode(train[:48].tolist())
    out = model.sample(1, sampler="greedy", prompt=text[:8], max_new_tokens=40, knn_weight=1.0, knn_k=1,
                       knn_store=str(path)).data
    assert tok.decode(out[0].tolist()) == text  # the random-weight model alone does not
    alone = model.sample(1, sampler="greedy", prompt=text[:8], max_new_tokens=40).data
    assert tok.decode(alone[0].tolist()) != text
    # held-out nats: the memorised corpus is far likelier with retrieval than without
    x = train[None, 48:97]
    assert knn_token_nats(model, store, x, 0.5, 16).mean() < 0.5 * model.token_nats(x).mean()


def test_bad_options_and_files_are_one_line_errors(setup, tmp_path):
    from genloom.errors import ConfigError
    from safetensors.torch import save_file

    model, train, store, path, _ = setup
    with pytest.raises(ConfigError, match="needs knn_store"):
        _draw(model, "multinomial", 0, knn_weight=0.25)
    with pytest.raises(ConfigError, match=r"knn_weight=1.5 must be"):
        _draw(model, "multinomial", 0, knn_weight=1.5, knn_store=str(path))
    with pytest.raises(ConfigError, match="genloom retrieve build"):
        _draw(model, "greedy", 0, knn_weight=0.2, knn_store=str(tmp_path / "none"))
    bad = tmp_path / "bad.safetensors"
    save_file({"keys": torch.zeros(4, 32).half(), "values": torch.full((4,), 999, dtype=torch.int32)}, bad,
              metadata={"format": "genloom-knn-1"})
    with pytest.raises(ConfigError, match="outside this model's vocabulary"):
        load_datastore(bad, 32, model.info.vocab_size)
    with pytest.raises(ConfigError, match="width 32"):
        load_datastore(path, 64, model.info.vocab_size)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match="cannot read"):
        load_datastore(tmp_path / "junk.safetensors", 32, model.info.vocab_size)


def test_a_network_without_hidden_states_is_refused():
    from genloom.errors import ConfigError
    from genloom_text.retrieval import hidden_generator

    cfg = load_config(None, ["model.name=rnn", "data.name=text", "data.block_size=16"], check_trainer=False)
    model = build_model(cfg, build_dataset(cfg).info)
    with pytest.raises(ConfigError, match="step_hidden"):
        hidden_generator(model)


def test_retrieve_build_command_and_sampling_with_it(tmp_path, capsys):
    from genloom.cli import main

    text = tmp_path / "corpus.txt"
    text.write_text(CORPUS, encoding="utf-8")
    run = tmp_path / "run"
    config = str(Path(__file__).resolve().parents[3] / "examples" / "configs" / "transformer-pydoc.yaml")
    main(["train", config, f"output_dir={run}", *SMALL[1:4], f"data.path={text}", "data.block_size=48",
          "trainer.max_steps=2", "trainer.limit_val_batches=1", "sample.every_n_epochs=0",
          "trainer.enable_progress_bar=false"])
    capsys.readouterr()
    main(["retrieve", "build", str(run), "--json"])
    assert (run / "retrieval" / "knn.safetensors").is_file() and '"positions"' in capsys.readouterr().out
    main(["sample", str(run), "--prompt", "def ", "--max-new-tokens", "12", "knn_weight=0.5", "knn_k=4",
          f"knn_store={run}"])
    assert capsys.readouterr().out.startswith("def ")
    with pytest.raises(SystemExit) as exit_:
        main(["sample", str(run), "knn_weight=0.5"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and "knn_store" in err


def test_a_datastore_is_replaced_whole_or_not_at_all(setup, tmp_path, monkeypatch):
    import os

    model, _, store, path, _ = setup
    target = tmp_path / "knn.safetensors"
    target.write_bytes(path.read_bytes())

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        save_datastore(store, target, {"note": "new"})
    assert target.read_bytes() == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["knn.safetensors"]
