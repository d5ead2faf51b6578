"""The packaged ``flow-fast-mnist`` recipe: class-conditional flow matching on unpadded
28x28 MNIST with classifier-free guidance and a warmed-up EMA. Built from its YAML
(no data is loaded), so these run in seconds."""

import pytest
import torch

from genloom import DataInfo, Denoiser, load_config
from genloom.build import build_model
from genloom.errors import ComponentError

MNIST28 = DataInfo(kind="image", shape=(1, 28, 28), num_classes=10)


def recipe(*overrides):
    cfg = load_config("flow-fast-mnist", list(overrides), check_trainer=False)
    return cfg, build_model(cfg, MNIST28)


def test_recipe_is_conditional_flow_on_unpadded_28x28_down_to_7x7():
    cfg, model = recipe()
    assert int(cfg.data.get("pad", 0) or 0) == 0 and cfg.data.name.endswith("mnist")
    assert model.objective == "flow" and model.default_sampler == "diffusion:flow_euler"
    assert model.null_label == 10  # trained with label dropout: guidance has an unconditional branch
    assert model.ema is not None and cfg.model.ema_warmup
    assert cfg.sample.options.guidance > 1
    sizes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
             for m in model.denoiser.modules() if isinstance(m, torch.nn.Conv2d)]
    x = torch.randn(2, 1, 28, 28)
    out = model.denoiser(x, torch.tensor([100.0, 900.0]), torch.tensor([3, 10]))
    for h in hooks:
        h.remove()
    assert out.shape == x.shape
    assert min(sizes) == 7 and max(sizes) == 28


def test_guided_euler_step_is_the_guided_velocity_by_hand():
    """One Euler step from s=1 to 0: x = noise - (u + w (c - u)), the denoiser seen at s*T."""
    _, model = recipe()
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    cond = torch.tensor([1, 7, 7])
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    out = model.sample(3, cond=cond, sampler="flow_euler", steps=1, guidance=2.5, generator=g()).data
    noise = torch.randn(3, 1, 28, 28, generator=g())
    den = model.component(Denoiser)
    t = torch.full((3,), float(model.flow_path.model_time(1.0)))
    with torch.no_grad():
        c, u = den(noise, t, cond), den(noise, t, torch.full((3,), 10))
    assert torch.allclose(out, noise - (u + 2.5 * (c - u)), atol=1e-5)
    plain = model.sample(3, cond=cond, sampler="flow_euler", steps=1, guidance=1.0, generator=g()).data
    assert not torch.allclose(out, plain)


def test_same_seed_and_labels_give_the_same_samples():
    _, model = recipe()
    model.eval()
    options = dict(steps=3, guidance=1.5)
    cond = torch.arange(4)
    a = model.sample(4, cond=cond, generator=torch.Generator().manual_seed(1), **options).data
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(a, model.sample(4, cond=cond, generator=torch.Generator().manual_seed(1), **options).data)
    assert not torch.equal(a, model.sample(4, cond=cond, generator=torch.Generator().manual_seed(2), **options).data)
    assert not torch.equal(a, model.sample(4, cond=cond + 4, generator=torch.Generator().manual_seed(1), **options).data)


def test_recipe_refuses_levels_28x28_cannot_halve():
    with pytest.raises(ComponentError, match="28 is not divisible by 8"):
        recipe("model.denoiser.channel_mult=[1,2,2,2]")
