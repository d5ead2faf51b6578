"""The align plugin composes any registered autoregressive model: the RNN too."""

import torch

from genloom_align.dpo import DPOConfig, train_dpo
from genloom_align.policy import load_policy, sample, tokenizer
from genloom_align.preferences import Pair
from genloom_align.reward import RewardModel
from genloom_align.rlhf import RLConfig, judge_scorer, train_rlhf
from genloom_align.judges import Keyword


def test_dpo_rlhf_and_reward_features_work_on_an_rnn(tiny_rnn):
    rnn = tiny_rnn
    model = load_policy(rnn)
    assert type(model).__module__.startswith("genloom_rnn")
    pairs = [Pair("the ", "cat sat", "cat sad")] * 4
    _, summary = train_dpo(str(rnn), pairs, pairs[:1], DPOConfig(steps=5, lr=1e-2, batch_size=2), echo=None)
    assert summary["held_out_margin"] > 0 and summary["held_out_kl"] > 0
    _, history = train_rlhf(str(rnn), judge_scorer(Keyword("a")), ["the "],
                            RLConfig(steps=2, per_prompt=2, prompts_per_step=1, max_new_tokens=4, log_every=1),
                            echo=None)
    assert len(history) == 2
    feats = RewardModel(model, str(rnn)).features(["the ", "a "], ["cat", "bat sat"])
    assert feats.shape == (2, 32) and torch.isfinite(feats).all()
    gen = torch.Generator().manual_seed(0)
    a = sample(model, [tokenizer(model).encode("the ")] * 3, 6, gen).ids
    b = sample(model, [tokenizer(model).encode("the ")] * 3, 6, torch.Generator().manual_seed(0)).ids
    assert a.shape == (3, 10)
    assert torch.equal(a, b)  # same seed, same samples
