"""genloom-text as a library beside the core: its components register through the
plugin hook, the core never imports it, and the old ``genloom.*`` paths still work
(same objects) with a DeprecationWarning."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "core" / "genloom"

OLD_MODULES = {
    "genloom.language": "genloom_text.language",
    "genloom.decoding": "genloom_text.decoding",
    "genloom.decoding.samplers": "genloom_text.decoding.samplers",
    "genloom.data.text": "genloom_text.data",
    "genloom.data.tokenizers": "genloom_text.tokenizers",
    "genloom.data.bpe": "genloom_text.bpe",
    "genloom.data.shakespeare": "genloom_text.shakespeare",
    "genloom.data.inherit": "genloom_text.inherit",
    "genloom.kinds.tokens": "genloom_text.kinds",
    "genloom.metrics.copying": "genloom_text.copying",
}


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_an_old_module_path_is_the_new_module_and_warns(old):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(OLD_MODULES[old])):
        module = importlib.import_module(old)
    assert module is importlib.import_module(OLD_MODULES[old])


@pytest.mark.parametrize("name", ["LanguageModel", "tokenizer_from_state"])
def test_an_old_root_name_is_the_new_object_and_warns(name):
    import genloom
    import genloom_text

    assert name not in genloom.__all__
    with pytest.warns(DeprecationWarning, match=f"genloom_text.*{name}"):
        value = getattr(genloom, name)
    assert value is getattr(genloom_text, name)


def test_the_text_components_are_the_text_plugins():
    from genloom.plugins import get_registry

    registry = get_registry()
    for kind, name in [("dataset", "text"), ("dataset", "shakespeare"), ("tokenizer", "char"),
                       ("tokenizer", "byte"), ("tokenizer", "bpe"), ("sampler", "multinomial"),
                       ("sampler", "greedy"), ("sampler", "beam"), ("sample_kind", "tokens"),
                       ("metric", "copying")]:
        component = registry.resolve(kind, name)
        assert component.plugin == "text" and component.target.startswith("genloom_text.")
        # a run saved before the split names it genloom:NAME
        assert registry.resolve(kind, f"genloom:{name}") is component


def test_the_entry_module_imports_no_torch():
    code = "import sys, genloom_text.plugin; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_core_never_imports_the_text_library():
    """Only the deprecation tables may name it (as data)."""
    allowed = {CORE / "moved.py", CORE / "__init__.py"}
    offenders = [str(p) for p in CORE.rglob("*.py")
                 if p not in allowed and "genloom_text" in p.read_text()]
    assert offenders == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = subprocess.run(
            [sys.executable, "-c",
             "import sys, genloom, genloom.training, genloom.sampling, genloom.kinds, genloom.cli;"
             "print(sorted(m for m in sys.modules if m.startswith('genloom_text')))"],
            capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_dataset_takes_the_saved_tokenizer_through_the_core_protocol():
    from genloom.data.base import UsesSavedTokenizer, adopt_saved_tokenizer
    from omegaconf import OmegaConf

    from genloom_text.data import Text
    from genloom_text.tokenizers import ByteTokenizer

    ds = Text(OmegaConf.create({"name": "text", "path": None, "tokenizer": "char", "block_size": 8,
                                "vocab_size": 0, "windows": "fixed"}))
    assert isinstance(ds, UsesSavedTokenizer)
    assert adopt_saved_tokenizer(ds, ByteTokenizer().state())
    assert ds.info.vocab_size == 256
    assert not adopt_saved_tokenizer(ds, {}) and not adopt_saved_tokenizer(object(), {"kind": "byte"})
