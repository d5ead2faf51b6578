"""genloom_text.muon: orthogonalised updates on matrices, AdamW on the rest, the run's schedule."""

import pytest
import torch
from torch import nn

from genloom_text.muon import Muon, adam_only, orthogonalize, uses_muon


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (48, 48)])
def test_newton_schulz_brings_every_singular_value_near_one(shape):
    torch.manual_seed(0)
    g = torch.randn(*shape) * torch.logspace(-1, 1, shape[1])  # condition number 20+
    before = torch.linalg.svdvals(g)
    after = torch.linalg.svdvals(orthogonalize(g))
    assert before.max() / before.min() > 20
    # five quintic steps lift every direction above 1/30 of the largest into [0.5, 1.25]
    # (the speed-run's trade: fewer steps, not all the way to 1); none overshoots
    assert after.max() < 1.25 and after[before > before.max() / 30].min() > 0.5
    # the same singular vectors: U V^T of g, up to how far the quintic gets
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    assert torch.nn.functional.cosine_similarity(orthogonalize(g).flatten(), (u @ vh).flatten(), 0) > 0.95


def test_a_muon_step_on_a_matrix_is_orthogonal_and_the_rest_is_adamw():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(16, 32))
    emb = nn.Parameter(torch.randn(10, 32))
    gain = nn.Parameter(torch.randn(32))
    adam_only([emb])
    assert uses_muon(w) and not uses_muon(emb) and not uses_muon(gain)
    twin = [nn.Parameter(emb.detach().clone()), nn.Parameter(gain.detach().clone())]
    opt = Muon([w, emb, gain], lr=1e-2, muon_lr=0.05, momentum=0.0, nesterov=False,
               weight_decay=0.1, betas=(0.9, 0.99))
    ref = torch.optim.AdamW(twin, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.99))
    for _ in range(3):
        grads = [torch.randn(16, 32) * torch.logspace(-2, 0, 32), torch.randn(10, 32), torch.randn(32)]
        before = w.detach().clone()
        for p, g in zip((w, emb, gain), grads):
            p.grad = g.clone()
        for p, g in zip(twin, grads[1:]):
            p.grad = g.clone()
        opt.step()
        ref.step()
        step = (before * (1 - 0.05 * 0.1) - w.detach()) / 0.05  # undo decay and lr
        s = torch.linalg.svdvals(step)
        assert s.min() > 0.5 and s.max() < 1.25, s
    torch.testing.assert_close(emb.detach(), twin[0].detach())
    torch.testing.assert_close(gain.detach(), twin[1].detach())


def test_muon_follows_the_runs_learning_rate_schedule():
    def moved(factor):
        torch.manual_seed(0)
        w = nn.Parameter(torch.randn(8, 8))
        opt = Muon([w], lr=1e-3, muon_lr=0.02, momentum=0.0)
        torch.optim.lr_scheduler.LambdaLR(opt, lambda step: factor)
        start = w.detach().clone()
        w.grad = torch.randn(8, 8)
        opt.step()
        return float((w.detach() - start).norm())

    assert moved(0.5) == pytest.approx(0.5 * moved(1.0), rel=1e-5)


def test_bad_hyperparameters_are_refused():
    w = [nn.Parameter(torch.zeros(2, 2))]
    for kwargs in ({"muon_lr": -1}, {"momentum": 1.0}, {"betas": (0.9, 1.5)}, {"ns_steps": 0}):
        with pytest.raises(ValueError):
            Muon(w, **kwargs)
