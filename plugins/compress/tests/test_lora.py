"""LoRA adapters (genloom_compress.lora): parameter count, frozen base, merge, save and load."""

import pytest
import torch
from torch import nn

from genloom.errors import CheckpointError, ConfigError
from genloom_compress.lora import (
    LoRALinear, add_lora, adapter_state_dict, linear_names, load_adapters, merge_lora, save_adapters,
)


class Net(nn.Module):
    """Linear layers, a norm, and an output layer tied to the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 8)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8, bias=False)) for _ in range(2))
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 11, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, x):
        h = self.emb(x)
        for b in self.blocks:
            h = h + b(h)
        return self.head(self.norm(h))


def trained_adapters(rank=3, seed=0):
    torch.manual_seed(seed)
    net = Net()
    base = {k: v.clone() for k, v in net.state_dict().items()}
    add_lora(net, rank=rank, alpha=6.0)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
    x = torch.randint(0, 11, (4, 5))
    for _ in range(5):
        loss = net(x).logsumexp(-1).mean() - net(x)[..., 3].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, base, x


def test_rank_r_adds_exactly_r_times_in_plus_out_per_layer_and_skips_the_tied_head():
    net = Net()
    before = sum(p.numel() for p in net.parameters())
    names = add_lora(net, rank=4)
    assert names == ["blocks.0.0", "blocks.0.2", "blocks.1.0", "blocks.1.2"]
    added = sum(p.numel() for p in net.parameters()) - before
    assert added == 2 * 4 * ((8 + 16) + (16 + 8))
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    assert all(".lora_" in n for n in trainable) and len(trainable) == 8
    assert linear_names(Net(), ["blocks.0.*"]) == ["blocks.0.0", "blocks.0.2"]


def test_a_fresh_adapter_changes_nothing_and_the_base_state_dict_still_loads():
    torch.manual_seed(0)
    net, x = Net(), torch.randint(0, 11, (2, 6))
    ref = net(x)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    add_lora(net, rank=2)
    torch.testing.assert_close(net(x), ref, atol=0, rtol=0)  # B starts at zero
    missing = net.load_state_dict(state, strict=False).missing_keys
    assert missing and all(".lora_" in k for k in missing)


def test_training_leaves_base_weights_unchanged_and_merge_gives_the_same_logits():
    net, base, x = trained_adapters()
    for key, value in base.items():
        assert torch.equal(net.state_dict()[key], value), key
    assert any(layer.lora_b.abs().sum() > 0 for layer in net.modules() if isinstance(layer, LoRALinear))
    adapted = net(x).detach()
    plain = Net()
    plain.load_state_dict(base)
    assert (plain(x) - adapted).abs().max() > 1e-2  # the adapters changed the output
    assert merge_lora(net) == 4
    assert not any(isinstance(m, LoRALinear) for m in net.modules())
    assert set(net.state_dict()) == set(base)
    torch.testing.assert_close(net(x), adapted, atol=1e-5, rtol=0)


def test_adapters_save_small_and_load_on_top_of_the_base(tmp_path):
    net, base, x = trained_adapters()
    path = save_adapters(net, tmp_path / "a.safetensors", extra={"base": "somewhere"})
    assert set(adapter_state_dict(net)) == {f"blocks.{i}.{j}.lora_{ab}" for i in (0, 1) for j in (0, 2) for ab in "ab"}
    fresh = Net()
    fresh.load_state_dict(base)
    load_adapters(fresh, path)
    torch.testing.assert_close(fresh(x), net(x), atol=1e-6, rtol=0)
    whole = sum(v.numel() for v in base.values())
    assert sum(v.numel() for v in adapter_state_dict(net).values()) < whole


def test_bad_adapter_input_is_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_adapters(Net(), tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_adapters(Net(), tmp_path / "junk.safetensors")
    net, _, _ = trained_adapters()
    path = save_adapters(net, tmp_path / "a.safetensors")
    with pytest.raises(CheckpointError, match="blocks.0.0"):
        load_adapters(nn.Sequential(nn.Linear(8, 8)), path)
    with pytest.raises(ConfigError, match="rank"):
        add_lora(Net(), rank=0)
    with pytest.raises(ConfigError, match="no nn.Linear"):
        add_lora(Net(), targets=["nothing.*"])


def test_saving_adapters_replaces_the_file_whole_or_not_at_all(tmp_path, monkeypatch):
    """An adapter file is written like every run and export file (genloom.atomic): a
    crash before its bytes are on disk (here: fsync fails) leaves the previous file."""
    import os

    net, _, _ = trained_adapters()
    path = save_adapters(net, tmp_path / "a.safetensors")
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        save_adapters(net, path, extra={"base": "another run"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]  # no temporary file left
