"""DPO against a hand computation and at large beta; the reward model on a planted preference."""

import math
import random

import pytest
import torch

from genloom_align.dpo import DPOConfig, dpo_loss, dpo_stats, train_dpo
from genloom_align.policy import encode, load_policy, sequence_logprob
from genloom_align.preferences import Pair
from genloom_align.reward import train_reward


def test_dpo_loss_equals_a_hand_computation():
    # two pairs: log-probs of chosen / rejected under the policy and the reference
    pc, pr = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -2.0])
    rc, rr = torch.tensor([-3.5, -4.0]), torch.tensor([-3.0, -3.0])
    beta = 0.5
    # pair 1: 0.5 * ((-3 + 3.5) - (-4 + 3)) = 0.75; pair 2: 0.5 * ((-5 + 4) - (-2 + 3)) = -1.0
    expected = (-math.log(1 / (1 + math.exp(-0.75))) - math.log(1 / (1 + math.exp(1.0)))) / 2
    out = dpo_loss(pc, pr, rc, rr, beta)
    assert out["loss"].item() == pytest.approx(expected, abs=1e-6)
    assert out["margin"].item() == pytest.approx((0.75 - 1.0) / 2)
    assert out["accuracy"].item() == 0.5
    assert out["chosen_reward"].item() == pytest.approx((0.25 - 0.5) / 2)


def test_sequence_logprob_scores_only_the_response(tiny_lm):
    model = load_policy(tiny_lm)
    a = encode(model, ["the cat"], [" sat"])
    b = encode(model, ["the cat"], [" sat on the mat"])
    assert a.mask.sum().item() == 4 and b.mask.sum().item() == 15
    with torch.no_grad():
        full, _ = model.net.step(b.ids[:, :-1])
        logp = torch.log_softmax(full, -1)
        by_hand = sum(logp[0, j, b.ids[0, j + 1]] for j in range(6, 21))
        assert sequence_logprob(model, b).item() == pytest.approx(by_hand.item(), abs=1e-4)


PAIRS = [Pair("the ", "cat sat on the mat", "cat sat on a mat"),
         Pair("a ", "bat ate the hat", "bat ate a hat"),
         Pair("the ", "rat sat on the hat", "rat sat on a hat")] * 4


def test_dpo_moves_toward_chosen_and_large_beta_stays_at_the_reference(tiny_lm):
    cfg = dict(lr=1e-3, steps=60)
    _, small = train_dpo(str(tiny_lm), PAIRS, PAIRS[:3], DPOConfig(beta=0.1, **cfg), echo=None)
    _, large = train_dpo(str(tiny_lm), PAIRS, PAIRS[:3], DPOConfig(beta=1e4, **cfg), echo=None)
    assert small["held_out_accuracy"] == 1.0 and small["held_out_margin"] > 0
    assert small["held_out_kl"] > 0.1
    # a huge beta saturates the loss after a step or two, so the policy stops moving:
    # its KL to the reference (per token, exact) is a small fraction of the small beta's
    assert large["held_out_kl"] < small["held_out_kl"] / 8


def test_dpo_stats_start_at_zero_margin(tiny_lm):
    policy = load_policy(tiny_lm)
    with torch.no_grad():
        stats = dpo_stats(policy, load_policy(tiny_lm), PAIRS[:3], 0.1)
    assert stats["margin"].item() == pytest.approx(0.0, abs=1e-6)
    assert stats["loss"].item() == pytest.approx(math.log(2), abs=1e-6)
    assert stats["kl"].item() == pytest.approx(0.0, abs=1e-6)


def test_reward_model_learns_a_planted_preference(tiny_lm):
    rng = random.Random(0)

    def text(letter):  # 12 characters with 4 more of `letter` than of the other one
        other = "b" if letter == "a" else "a"
        chars = [letter] * 6 + [other] * 2 + [rng.choice("the cm") for _ in range(4)]
        rng.shuffle(chars)
        return "".join(chars)

    pairs = [Pair("the ", text("a"), text("b")) for _ in range(160)]
    model, summary = train_reward(str(tiny_lm), pairs[:120], pairs[120:], steps=200, echo=None)
    assert summary["held_out_accuracy"] >= 0.85
    scores = model.score(["the "] * 2, ["aaaaaabbt", "bbbbbbaat"])
    assert scores[0] > scores[1]
