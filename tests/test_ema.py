"""The core's EMA helper: averaging, frozen copy, and the checkpoint keys it keeps."""

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from genloom import EMA


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_first_update_copies_then_averages_weights_and_buffers():
    source = net()
    ema = EMA(source, 0.75)
    assert not any(p.requires_grad for p in ema.parameters())
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    source[1].running_mean.fill_(2.0)
    ema.update(source)  # the first update copies
    first = [t.clone() for t in (*source.parameters(), source[1].running_mean)]
    assert all(torch.equal(a, b) for a, b in zip(first, (*ema.module.parameters(), ema.module[1].running_mean)))
    with torch.no_grad():
        for p in source.parameters():
            p.mul_(3.0)
    source[1].running_mean.fill_(6.0)
    ema.update(source)
    now = (*source.parameters(), source[1].running_mean)
    averaged = (*ema.module.parameters(), ema.module[1].running_mean)
    for old, new, avg in zip(first, now, averaged):
        assert torch.allclose(avg, 0.75 * old + 0.25 * new)
    assert int(ema.n_averaged) == 2


def test_state_dict_keys_match_torchs_averaged_model():
    source = net()
    legacy = AveragedModel(source, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    legacy.update_parameters(source)
    ema = EMA(net(), 0.9)
    assert list(ema.state_dict()) == list(legacy.state_dict())
    ema.load_state_dict(legacy.state_dict())  # checkpoints of the plugins' former copies load
    assert int(ema.n_averaged) == 1


def test_warmup_ramps_the_decay_and_a_resume_continues_it():
    source = net()
    ema = EMA(source, 0.999, warmup=True)
    ema.update(source)  # copies
    with torch.no_grad():
        for p in source.parameters():
            p.add_(1.0)
    ema.update(source)  # update k=1: decay 2/11, not 0.999
    for avg, old, new in zip(ema.module.parameters(), net().parameters(), source.parameters()):
        assert torch.allclose(avg, 2 / 11 * old + 9 / 11 * new)
    resumed = EMA(net(), 0.999, warmup=True)
    resumed.load_state_dict(ema.state_dict())
    assert int(resumed.n_averaged) == 2  # the next update uses decay 3/12
    plain = EMA(net(), 0.999)
    plain.update(net())
    plain.update(source)  # without warm-up the average barely moves
    assert all(torch.allclose(avg, old, atol=2e-3) for avg, old in zip(plain.module.parameters(), net().parameters()))
