"""Dynamic evaluation (genloom_text.dynamic_eval): honest, adaptive, and a named mode apart."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genloom import AutoregressiveGenerator
from genloom.errors import ConfigError
from genloom_text.dynamic_eval import dynamic_eval


class Bigram(AutoregressiveGenerator):
    """Logits from the current token alone: a table that gradient steps can adapt."""

    def __init__(self, vocab=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.vocab_size, self.context_length = vocab, 64
        self.latent_shape, self.data_shape = (), ()
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=g) * 0.1)

    def step(self, tokens, cache=None, cond=None):
        return self.table[tokens], None


def static_bpc(net, ids, block):
    """The plain held-out score over the same non-overlapping windows."""
    n = (len(ids) - 1) // block
    windows = torch.stack([ids[i * block : i * block + block + 1] for i in range(n)])
    with torch.no_grad():
        logits = net.step(windows[:, :-1])[0]
    return F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten(), reduction="sum").item() / (n * block) / math.log(2)


def text(n=400, seed=1):
    """A repetitive text: a short cycle the untrained table does not know."""
    return torch.tensor([0, 3, 1, 4, 2, 5] * (n // 6))


def test_lr_zero_is_the_plain_held_out_score_and_the_net_is_untouched():
    net, ids = Bigram(), text()
    before = net.table.detach().clone()
    result = dynamic_eval(net, ids, block=16, lr=0.0)
    assert result.tokens == ((len(ids) - 1) // 16) * 16 == result.chars
    assert result.bpc == pytest.approx(static_bpc(net, ids, 16), rel=1e-6)
    adapted = dynamic_eval(net, ids, block=16, lr=5.0)
    assert torch.equal(net.table, before)  # the adaptation ran on a copy
    assert adapted.bpc < 0.5 * result.bpc  # it learns the cycle it is reading


def test_each_segment_is_scored_before_the_model_learns_from_it():
    """Changing later text changes nothing scored before it, and the first segment's score
    is the unadapted model's: no token is learnt from before it is scored."""
    net, ids = Bigram(), text(102)[:97]  # 6 windows of 16
    block = 16
    full = dynamic_eval(net, ids, block=block, lr=1.0)
    changed = ids.clone()
    changed[5 * block + 1 :] = (changed[5 * block + 1 :] + 1) % 6  # the last window's targets
    other = dynamic_eval(net, changed, block=block, lr=1.0)
    assert len(full.window_nats) == 6
    assert full.window_nats[:5] == other.window_nats[:5]
    assert full.window_nats[5] != other.window_nats[5]
    assert dynamic_eval(net, ids[: 5 * block + 1], block=block, lr=1.0).window_nats == full.window_nats[:5]
    assert full.window_nats[0] == pytest.approx(static_bpc(net, ids[: block + 1], block) * block * math.log(2))


def test_decay_pulls_back_toward_the_trained_weights_and_adam_adapts_too():
    net, ids = Bigram(), text()
    free = dynamic_eval(net, ids, block=16, lr=5.0).bpc
    held = dynamic_eval(net, ids, block=16, lr=5.0, decay=0.5).bpc
    plain = dynamic_eval(net, ids, block=16, lr=0.0).bpc
    assert free < held < plain
    assert dynamic_eval(net, ids, block=16, lr=0.05, optimizer="adam").bpc < plain


def test_characters_are_counted_by_the_tokenizer_for_multi_character_tokens():
    net, ids = Bigram(), text()
    one = dynamic_eval(net, ids, block=16, lr=0.1)
    two = dynamic_eval(net, ids, block=16, lr=0.1, count_chars=lambda t: torch.full_like(t, 2))
    assert two.chars == 2 * one.chars and two.nats == one.nats
    assert two.bpc == pytest.approx(one.bpc / 2) and two.bits_per_token == pytest.approx(one.bits_per_token)


def test_same_inputs_same_score():
    net, ids = Bigram(), text()
    assert dynamic_eval(net, ids, block=8, lr=0.3).nats == dynamic_eval(net, ids, block=8, lr=0.3).nats


@pytest.mark.parametrize("options, message", [
    ({"block": 0, "lr": 0.1}, "block=0"),
    ({"block": 8, "lr": -1.0}, "lr=-1.0"),
    ({"block": 8, "lr": 0.1, "decay": 1.0}, "decay=1.0"),
    ({"block": 8, "lr": 0.1, "optimizer": "lion"}, "optimizer='lion'"),
    ({"block": 500, "lr": 0.1}, "more than block=500"),
    ({"block": 8, "lr": 0.1, "stride": 9}, "stride=9"),
])
def test_bad_settings_are_refused_in_one_line(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as err:
        dynamic_eval(Bigram(), text(), **options)
    assert "\n" not in str(err.value)


class Trigram(Bigram):
    """Logits from the current and the previous token: context inside the window matters."""

    def __init__(self, vocab=6, seed=0):
        super().__init__(vocab, seed)
        g = torch.Generator().manual_seed(seed + 1)
        self.prev = nn.Parameter(torch.randn(vocab, vocab, generator=g))

    def step(self, tokens, cache=None, cond=None):
        prev = torch.cat([torch.zeros_like(tokens[:, :1]), tokens[:, :-1]], dim=1)
        return self.table[tokens] + self.prev[prev] * (torch.arange(tokens.shape[1]) > 0)[:, None], None


def test_overlapping_windows_score_every_token_once_with_more_context():
    net, ids, block = Trigram(), text(), 16
    whole = dynamic_eval(net, ids, block=block, lr=0.0)
    slid = dynamic_eval(net, ids, block=block, lr=0.0, stride=4)
    assert dynamic_eval(net, ids, block=block, lr=0.0, stride=block).nats == whole.nats
    # the same targets 1 .. 16 k, now every window's first target has its predecessor too
    n = (len(ids) - 1) // block
    assert slid.tokens == len(range(0, len(ids) - block, 4)) * 4 + block - 4 >= whole.tokens
    assert slid.tokens - whole.tokens < block
    assert slid.bpc != pytest.approx(whole.bpc)
    assert dynamic_eval(net, ids, block=block, lr=0.5, stride=4).bpc < slid.bpc
    # honest with overlap too: changing tokens 41 on leaves the windows scored before alone
    changed = ids.clone()
    changed[41:] = (changed[41:] + 1) % 6
    a = dynamic_eval(net, ids, block=block, lr=0.5, stride=4).window_nats
    b = dynamic_eval(net, changed, block=block, lr=0.5, stride=4).window_nats
    # window k (k >= 1) scores targets 4k + 13 .. 4k + 16: unchanged for 4k + 16 < 41
    assert a[:7] == b[:7] and a[7] != b[7] and n > 0
