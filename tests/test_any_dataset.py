"""Any data: per-item and iterable torch datasets, DataLoaders, Hugging Face datasets,
memory-mapped token files and lazy image folders train, each DDP process and worker
reading its own share; bad data is a one-line error (docs/data.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

import genloom
from genloom.data.items import GivenData, Shard, fields, first_item
from genloom.data.splits import DataSplits
from genloom.errors import ConfigError
from omegaconf import OmegaConf

from support import ROOT, run_group

TINY = ["trainer.max_epochs=1", "sample.n=0", "checkpoint.every_n_epochs=0", "model.name=vae",
        "data.batch_size=8"]


class Items(Dataset):
    def __init__(self, n=40):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"img": torch.full((2,), float(i)), "label": i % 3}


class Stream(IterableDataset):
    def __init__(self, n=41):
        self.n = n

    def __iter__(self):
        return ({"x": torch.full((2,), float(i))} for i in range(self.n))


def cfg(*extra):
    return genloom.load_config(None, ["data.name=given", *TINY, *extra])


def loader(source, *extra):
    c = cfg(*extra)
    return DataSplits(GivenData(c.data, source), c.data).train_dataloader()


def seen(dl):
    return sorted(int(v) for batch in dl for v in batch["x"][:, 0])


@pytest.mark.parametrize("source, extra", [
    (Items(), ["data.columns={image: img, label: label}"]),
    (Stream(), []),
    (DataLoader(TensorDataset(torch.arange(40.0)[:, None].repeat(1, 2)), batch_size=4), []),
])
def test_every_torch_source_trains_one_process(tmp_path, source, extra):
    result = genloom.train(cfg(f"output_dir={tmp_path}/run", *extra), data=source, echo=None)
    assert result.checkpoint.is_file()
    assert result.model.info.kind == "points" and result.model.info.shape == (2,)


def test_items_collate_into_batches_with_mapped_columns():
    batches = list(loader(Items(), "data.columns={image: img, label: label}", "data.val_fraction=0"))
    assert seen(batches) == list(range(40))  # every item once per epoch
    assert set(batches[0]) == {"x", "y"} and batches[0]["y"].dtype == torch.long


@pytest.mark.parametrize("workers", [0, 2])
def test_iterable_shares_are_disjoint_and_equal_across_workers(workers):
    dl = loader(Stream(41), f"data.num_workers={workers}")
    assert seen(dl) == list(range(40 if workers == 2 else 41))  # a last incomplete round is dropped


def test_shard_gives_every_rank_its_own_equal_share(monkeypatch):
    import genloom.data.items as items

    shares = []
    for rank in range(3):
        monkeypatch.setattr(items, "process_share", lambda r=rank: (r, 3))
        shares.append([int(v["x"][0]) for v in Shard(Stream(20))])
    assert [len(s) for s in shares] == [6, 6, 6]
    assert sorted(sum(shares, [])) == list(range(18))


@pytest.mark.parametrize("source, extra, message", [
    (Items(), ["data.columns={image: picture}"], "no column 'picture'"),
    (Items(), [], "none of x/image/text"),
    ([{"x": "a string"}], [], "is a str, not a tensor"),
    (Stream(0), [], "is empty"),
    (Items(0), [], "is empty"),
])
def test_bad_data_is_a_one_line_error(source, extra, message):
    c = cfg(*extra)
    with pytest.raises(ConfigError, match=message):
        ds = GivenData(c.data, source)
        DataSplits(ds, c.data).require_examples("train")
        ds.info


ENTRY = '''
GENLOOM_COMPONENTS = {"dataset:NAME": ("gltest_NAME_data:Data", "per-item data")}
'''
PLUGIN = '''
import torch
from torch.utils.data import Dataset
from genloom.data.base import GenDataset
from genloom.data.info import DataInfo

class Items(Dataset):
    def __len__(self): return 16
    def __getitem__(self, i): return {"pixels": torch.zeros(2)}

class Data(GenDataset):
    info = DataInfo(kind="points", shape=(2,))
    def splits(self, val, test, seed): return {"train": Items(), "val": Items(), "test": Items()}
'''


def item_plugin(plugin_dir, tmp_path, name, key):
    from support import make_plugin

    make_plugin(plugin_dir, name, ENTRY.replace("NAME", name))
    (plugin_dir / f"gltest_{name}_data.py").write_text(PLUGIN.replace("pixels", key))
    config = tmp_path / "c.yaml"
    config.write_text(f"data: {{name: {name}, batch_size: 8}}\nmodel: {{name: vae}}\n"
                      "trainer: {max_epochs: 1}\nsample: {n: 0}\ncheckpoint: {every_n_epochs: 0}\n"
                      f"output_dir: {tmp_path}/r\n")
    return str(config)


def test_a_component_of_per_item_data_missing_its_column_exits_2(tmp_path, cli, plugin_dir):
    result = cli("train", item_plugin(plugin_dir, tmp_path, "baddata", "pixels"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "none of x/image/text" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_a_component_of_per_item_data_trains(tmp_path, cli, plugin_dir):
    result = cli("train", item_plugin(plugin_dir, tmp_path, "gooddata", "image"))
    assert result.returncode == 0, result.stderr  # once a raw TypeError in the loader


DDP_SCRIPT = '''
import json, os, sys
import torch
from torch.utils.data import Dataset, IterableDataset, DataLoader, TensorDataset
import genloom
from lightning.pytorch.callbacks import Callback

class Items(Dataset):
    def __len__(self): return 64
    def __getitem__(self, i): return {"x": torch.full((2,), float(i))}

class Stream(IterableDataset):
    def __iter__(self): return ({"x": torch.full((2,), float(i))} for i in range(65))

kind, out = sys.argv[1], sys.argv[2]
if kind == "hf":
    import datasets
    data = datasets.Dataset.from_dict({"x": [[float(i)] * 2 for i in range(64)]})
    data = data.to_iterable_dataset(num_shards=4)  # a torch IterableDataset of rows
    data = data.with_format("torch")
else:
    data = {"items": Items(), "stream": Stream(),
            "loader": DataLoader(TensorDataset(torch.arange(64.0)[:, None].repeat(1, 2)), batch_size=4)}[kind]
cfg = genloom.load_config(None, ["data.name=given", "model.name=vae", "data.batch_size=4", "data.num_workers=1",
    "trainer.max_epochs=1", "sample.n=0", "checkpoint.every_n_epochs=0", f"output_dir={out}/run",
    "trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"])
seen = []
class Record(Callback):
    def on_train_batch_start(self, trainer, module, batch, i):
        seen.extend(int(v) for v in batch["x"][:, 0])
    def on_train_end(self, trainer, module):
        with open(f"{out}/seen-{trainer.global_rank}.json", "w") as f:
            json.dump(seen, f)
import genloom.training as t
original = t.checkpoint_callbacks
t.checkpoint_callbacks = lambda *a, **k: [*original(*a, **k), Record()]
genloom.train(cfg, data=data, echo=None)
'''


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["items", "stream", "loader", "hf"])
def test_two_ddp_processes_read_disjoint_shares(tmp_path, kind):
    if kind == "hf":
        pytest.importorskip("datasets")
    script = tmp_path / "train_two.py"
    script.write_text(DDP_SCRIPT)
    code, _, err = run_group([sys.executable, str(script), kind, str(tmp_path)], tmp_path)
    assert code == 0, err[-3000:]
    zero, one = (json.loads((tmp_path / f"seen-{r}.json").read_text()) for r in (0, 1))
    assert zero and len(zero) == len(one)
    assert not set(zero) & set(one)  # disjoint shares
    assert len(set(zero) | set(one)) == 64  # together: all of it


def test_given_data_is_split_for_validation_or_validated_by_val_data():
    c = cfg("data.val_fraction=0.25")
    parts = GivenData(c.data, Items()).splits(0.25, 0.1, seed=0)
    train, val = sorted(parts["train"].indices), sorted(parts["val"].indices)
    assert len(val) == 10 and sorted(train + val) == list(range(40))
    assert parts["val"].indices == GivenData(c.data, Items()).splits(0.25, 0.1, seed=0)["val"].indices
    assert len(GivenData(c.data, Items()).splits(0.0, 0.1, seed=0)["train"]) == 40
    held = Stream(8)
    assert GivenData(c.data, Stream(), held).splits(0.25, 0.1, seed=0)["val"] is held
    assert len(GivenData(c.data, Stream()).splits(0.25, 0.1, seed=0)["val"]) == 0  # iterables: none


def test_no_validation_is_said_once_instead_of_lightnings_warning(tmp_path):
    import warnings

    said = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        genloom.train(cfg(f"output_dir={tmp_path}/run"), data=Stream(), echo=said.append)
    assert not [w for w in caught if "Total length" in str(w.message)]
    assert said[0].startswith("no validation:") and "val_data" in said[0]
    result = genloom.train(cfg(f"output_dir={tmp_path}/val"), data=Stream(), val_data=Stream(16), echo=said.append)
    assert "val/loss" in result.trainer.callback_metrics
    assert sum(line.startswith("no validation") for line in said) == 1  # none for the second run


def test_a_model_built_in_python_trains_with_the_default_run_config(tmp_path):
    from genloom_vae.model import VAE

    info = genloom.DataInfo(kind="points", shape=(2,))
    section = genloom.load_config(None, ["model.name=vae"]).model
    model = VAE(section, info=info)  # built by hand: no run config of its own
    before = [p.detach().clone() for p in model.parameters()]
    result = genloom.train(model, data=Items(), echo=None, overrides=[
        f"output_dir={tmp_path}/run", "data.columns={image: img}", *TINY[:3]])
    assert result.model is model and result.checkpoint.is_file()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.model.name == "vae:vae" and saved.data.name.endswith("given") and saved.optim.lr == 1e-3
    wrong = VAE(section, info=genloom.DataInfo(kind="points", shape=(3,)))
    with pytest.raises(ConfigError, match="built for points data of shape"):
        genloom.train(wrong, data=Items(), echo=None, overrides=["data.columns={image: img}"])
