"""genloom-diffusion as a library: its public API, the old core paths that still reach
it (with a DeprecationWarning), and the sampler loop a subclass fills with ``step``."""

import importlib
import inspect
import subprocess
import sys
import warnings

import pytest
import torch

import genloom
import genloom_diffusion
import genloom.sampling
from genloom import ConfigError, DataInfo, build_model, load_config
from genloom_diffusion import DiffusionSampler, Option, Run, between
from genloom_diffusion.samplers.ddim import DDIM
from genloom_diffusion.samplers.flow import FlowHeun

OLD_MODULES = {
    "genloom.denoising": "genloom_diffusion.denoising",
    "genloom.denoising.schedule": "genloom_diffusion.denoising.schedule",
    "genloom.denoising.sampler": "genloom_diffusion.denoising.sampler",
    "genloom.first_stage": "genloom_diffusion.first_stage",
}
OLD_NAMES = ["NoiseSchedule", "DiffusionSampler", "DenoisingModel", "FirstStage", "FirstStageConfig"]


def test_the_entry_module_and_package_import_without_torch():
    code = ("import sys, genloom_diffusion, genloom_diffusion.plugin; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_public_api_is_listed_and_documented():
    for name in genloom_diffusion.__all__:
        obj = getattr(genloom_diffusion, name)
        if name not in ("__version__", "PREDICTIONS"):
            assert obj.__doc__, name
    assert set(OLD_NAMES) <= set(genloom_diffusion.__all__)


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_an_old_module_path_is_the_new_module_and_warns(old):
    for name in [m for m in sys.modules if m == old or m.startswith(old + ".")]:
        del sys.modules[name]  # import it afresh through the old path
    with pytest.warns(DeprecationWarning, match=f"moved to '{OLD_MODULES[old]}'"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(OLD_MODULES[old])


@pytest.mark.parametrize("name", OLD_NAMES)
def test_an_old_root_name_is_the_same_object_and_warns(name):
    assert name not in genloom.__all__
    with pytest.warns(DeprecationWarning, match=f"genloom_diffusion.{name}"):
        obj = getattr(genloom, name)
    assert obj is getattr(genloom_diffusion, name)
    with pytest.warns(DeprecationWarning):  # every use warns, not only the first
        getattr(genloom, name)


def test_new_paths_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from genloom_diffusion import DenoisingModel, FirstStage, NoiseSchedule  # noqa: F401
        from genloom_diffusion.denoising import pairs  # noqa: F401


class Recorder(DiffusionSampler):
    """A sampler written as a third party would: only ``step``, on the base's loop."""

    default_steps = 4

    def step(self, run: Run, x: torch.Tensor, t: int, t_next: int) -> torch.Tensor:
        run.state.setdefault("visited", []).append((t, t_next))
        self.visited = run.state["visited"]
        x0, _ = run.x0_and_eps(run.predict(x, t), x, t)
        return x0 if t_next < 0 else run.schedule.add_noise(x0, run.noise(run.generator, x), t_next)


def tiny_model():
    cfg = load_config(None, [
        "model.name=diffusion", "model.denoiser.name=mlp", "model.denoiser.hidden=8",
        "model.denoiser.blocks=1", "model.timesteps=20",
    ], check_trainer=False)
    return build_model(cfg, DataInfo(kind="points", shape=(2,)))


def test_a_sampler_that_writes_only_step_runs_on_the_base_loop():
    model, sampler = tiny_model(), Recorder()
    out = sampler.sample(model, 3, generator=torch.Generator().manual_seed(0))
    assert out.data.shape == (3, 2) and torch.isfinite(out.data).all()
    assert sampler.visited == [(19, 14), (14, 9), (9, 4), (4, -1)]
    again = sampler.sample(model, 3, generator=torch.Generator().manual_seed(0), steps=2)
    assert sampler.visited == [(19, 9), (9, -1)]  # state is per call, not kept on the sampler
    assert again.data.shape == (3, 2)


def test_a_sampler_without_step_says_so():
    with pytest.raises(NotImplementedError, match="step"):
        DiffusionSampler().sample(tiny_model(), 1)


class Shrink(DiffusionSampler):
    """A third-party sampler with an option of its own and a grid of its own."""

    options = {"factor": Option(0.5, "how much of x0 each step keeps", between(0, 1))}

    def grid(self, run, steps):  # three uneven steps, whatever `steps` says
        return [19, 10, 3, -1]

    def step(self, run, x, t, t_next):
        self.seen = getattr(self, "seen", []) + [(t, t_next, run.options["factor"])]
        return torch.lerp(x, run.x0_and_eps(run.predict(x, t), x, t)[0], run.options["factor"])


def test_declared_options_make_the_sample_signature_genloom_checks():
    params = inspect.signature(Shrink().sample).parameters
    assert list(params) == ["model", "n", "cond", "generator", "steps", "factor", "guidance", "clip"]
    assert params["factor"].default == 0.5 and params["factor"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "``factor``: how much of x0 each step keeps (default 0.5)" in Shrink.sample.__doc__
    assert list(inspect.signature(DDIM().sample).parameters)[4:] == ["steps", "eta", "guidance", "clip"]
    assert list(inspect.signature(FlowHeun().sample).parameters)[4:] == ["steps", "shift", "guidance"]
    assert "(default 10)" in FlowHeun.sample.__doc__  # its own default_steps, not its parent's


def test_options_are_checked_and_reach_step_and_the_grid_is_the_samplers():
    model, sampler = tiny_model(), Shrink()
    sampler.sample(model, 2, generator=torch.Generator().manual_seed(0), factor=1)
    assert sampler.seen == [(19, 10, 1.0), (10, 3, 1.0), (3, -1, 1.0)]
    assert isinstance(sampler.seen[0][2], float)  # the checked value, not the given int
    with pytest.raises(ConfigError, match="factor must be a number between 0 and 1, got 2"):
        sampler.sample(model, 2, factor=2)
    with pytest.raises(ConfigError, match="guidance must be a number, got 'lots'"):
        sampler.sample(model, 2, guidance="lots")
    with pytest.raises(ConfigError, match="clip must be true or false, got 1"):
        sampler.sample(model, 2, clip=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'eta'"):
        sampler.sample(model, 2, eta=0.5)
    with pytest.raises(ConfigError, match="has no option 'fctor'.*did you mean 'factor'"):
        genloom.sampling._check_options(sampler, {"fctor": 0.5})  # the core reads the signature


def test_a_sampler_that_writes_its_own_sample_keeps_it_and_so_do_its_subclasses():
    class Own(DDIM):
        def sample(self, model, n, *, cond=None, generator=None, width: int = 3):
            return self.sample_loop(model, n, cond=cond, generator=generator, steps=width,
                                    guidance=1.0, clip=None, eta=0.0)

    class Child(Own):
        label = "child"

    for cls in (Own, Child):
        assert list(inspect.signature(cls().sample).parameters)[4:] == ["width"]
    out = Child().sample(tiny_model(), 2, generator=torch.Generator().manual_seed(0), width=2)
    assert out.data.shape == (2, 2)


def test_the_sigma_space_base_is_public_and_euler_uses_it():
    from genloom_diffusion.samplers.euler import Euler

    assert issubclass(Euler, genloom_diffusion.SigmaSpaceSampler)
    assert issubclass(genloom_diffusion.SigmaSpaceSampler, DiffusionSampler)


def test_kinds_is_the_deprecated_name_of_predictions():
    from genloom_diffusion import PREDICTIONS, denoising
    from genloom_diffusion.denoising import schedule

    assert PREDICTIONS == ("eps", "x0", "v")
    assert "KINDS" not in genloom_diffusion.__all__
    for module in (genloom_diffusion, denoising, schedule):
        with pytest.warns(DeprecationWarning, match="KINDS is now PREDICTIONS"):
            assert module.KINDS is PREDICTIONS
