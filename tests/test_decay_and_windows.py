"""Weight-decay groups (matrices only by default) and random-offset text windows."""

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from genloom.config import OptimConfig
from genloom_text.data import RandomWindows, Text, Windows
from genloom.errors import ConfigError
from genloom.model import OptimizerGroup
from genloom.optim import build_optimizers, decay_split


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.norm = nn.LayerNorm(4)
        self.lin = nn.Linear(4, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight  # tied: counts as the embedding
        self.conv = nn.Conv1d(4, 4, 3)


def optim_cfg(**kw):
    return OmegaConf.merge(OmegaConf.structured(OptimConfig), {"name": "adamw", **kw})


def test_decay_split_decays_matrices_only_and_lists_each_parameter_once():
    m = Tiny()
    decay, keep = decay_split(m)
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay) == {id(m.lin.weight), id(m.conv.weight)}
    assert ids(keep) == {id(m.emb.weight), id(m.norm.weight), id(m.norm.bias), id(m.lin.bias),
                         id(m.conv.bias)}
    assert len(decay) + len(keep) == len(list(m.parameters()))


def test_optimizer_applies_weight_decay_to_the_decay_group_only():
    m = Tiny()
    opt = build_optimizers(optim_cfg(weight_decay=0.1), [OptimizerGroup("model", m)], 10)["optimizer"]
    groups = {g["weight_decay"]: {id(p) for p in g["params"]} for g in opt.param_groups}
    assert groups[0.1] == {id(m.lin.weight), id(m.conv.weight)}
    assert id(m.norm.weight) in groups[0.0]
    # one AdamW step with zero gradients: only decayed weights shrink
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    assert not torch.equal(before["lin.weight"], m.lin.weight)
    assert torch.equal(before["norm.weight"], m.norm.weight)
    assert torch.equal(before["emb.weight"], m.emb.weight)


def test_decay_all_keeps_the_old_single_group_and_bad_choice_is_a_config_error():
    m = Tiny()
    opt = build_optimizers(optim_cfg(weight_decay=0.1, decay="all"), [OptimizerGroup("model", m)],
                           10)["optimizer"]
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["weight_decay"] == 0.1
    with pytest.raises(ConfigError, match="optim.decay: unknown choice 'weight'.*weights"):
        build_optimizers(optim_cfg(weight_decay=0.1, decay="weight"), [OptimizerGroup("model", m)], 10)


def test_a_parameter_list_group_is_split_by_dimension():
    lin = nn.Linear(3, 3)
    decay, keep = decay_split([lin.weight, lin.bias])
    assert decay == [lin.weight] and keep == [lin.bias]


def text_data(windows):
    cfg = OmegaConf.create({"name": "text", "path": None, "tokenizer": "char", "block_size": 16,
                            "vocab_size": 0, "windows": windows})
    return Text(cfg)


def test_random_windows_are_seeded_cover_offsets_and_keep_the_epoch_length():
    tokens = torch.arange(1000)
    fixed, rand = Windows(tokens, 16), RandomWindows(tokens, 16)
    assert len(rand) == len(fixed)
    torch.manual_seed(0)
    a = rand.__getitems__(list(range(200)))["x"]
    torch.manual_seed(0)
    b = rand.__getitems__(list(range(200)))["x"]
    assert torch.equal(a, b)
    assert a.shape == (200, 17)
    assert torch.equal(a[:, 1:] - a[:, :-1], torch.ones(200, 16, dtype=torch.long))  # contiguous
    starts = a[:, 0]
    assert starts.max() <= 1000 - 17 and starts.min() >= 0
    assert (starts % 16 != 0).float().mean() > 0.5  # not the fixed cuts


def test_text_trains_on_random_windows_by_default_and_holds_out_fixed_ones():
    splits = text_data("random").splits(0.1, 0.1, 0)
    assert isinstance(splits["train"], RandomWindows)
    assert type(splits["val"]) is Windows and type(splits["test"]) is Windows
    assert type(text_data("fixed").splits(0.1, 0.1, 0)["train"]) is Windows
    with pytest.raises(ConfigError, match="data.windows"):
        text_data("sliding")
