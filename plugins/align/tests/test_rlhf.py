"""Policy gradient (RLOO with a KL penalty) raises a programmatic reward on a tiny model."""

from genloom_align.judges import Keyword
from genloom_align.rlhf import RLConfig, judge_scorer, train_rlhf


def test_rloo_raises_a_keyword_reward_while_kl_stays_bounded(tiny_lm):
    # reward: the number of 'a's in 8 new characters. The KL-regularised optimum is
    # pi(a) ~ p_ref(a) * exp(1 / kl_coef): with p_ref(a) ~ 1/15 and kl_coef 0.5 it
    # puts ~0.35 on 'a' (reward ~2.8 from ~0.5) at a KL of ~2.8 nats per sample
    cfg = RLConfig(steps=80, lr=3e-3, kl_coef=0.5, per_prompt=4, prompts_per_step=2,
                   max_new_tokens=8, log_every=5)
    policy, history = train_rlhf(str(tiny_lm), judge_scorer(Keyword("a")), ["the ", "abba "], cfg,
                                 echo=None)
    first = sum(r["reward"] for r in history[:2]) / 2
    last = sum(r["reward"] for r in history[-6:]) / 6
    assert last > first + 1.2
    assert max(r["kl"] for r in history) < 8.0
    assert sum(r["kl"] for r in history[-6:]) / 6 < 5.0
    assert all(r["entropy"] > 1.0 for r in history)  # no collapse onto one character
    assert all(p.requires_grad for p in policy.parameters())
