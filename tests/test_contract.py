"""The contract pieces families nobody planned need: flows, discrete latents, composed
samplers, sampling with gradients, per-row conditions, and new sample kinds."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from genloom import (
    AutoregressiveGenerator,
    DataInfo,
    DiscreteEncoder,
    DiscreteLatent,
    FlowLatent,
    GenerativeModel,
    Generator,
    InvertibleGenerator,
    Sampler,
    Samples,
    register,
)
from genloom.kinds import SampleKind, save_samples
from genloom_eval.interpolation import interpolate
from genloom_diffusion import FirstStage
from genloom_text import LanguageModel
from genloom.kinds import get_kind

# -- a flow: one invertible generator is both the Encoder and the Generator -------------


class Affine(InvertibleGenerator):
    """x = z * exp(s) + b, elementwise: a flow whose density is known in closed form."""

    def __init__(self, dims: int = 2) -> None:
        super().__init__()
        self.latent_shape = self.data_shape = (dims,)
        self.s = nn.Parameter(torch.tensor([0.5, -0.3][:dims]))
        self.b = nn.Parameter(torch.tensor([1.0, -2.0][:dims]))

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return z * self.s.exp() + self.b

    def inverse(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        z = (x - self.b) * (-self.s).exp()
        return z, (-self.s).sum().expand(len(x))


class FlowModel(GenerativeModel):
    likelihood = "exact"
    has_latent_space = True

    def __init__(self, cfg=None, info=None) -> None:
        super().__init__(cfg, info or DataInfo(kind="points", shape=(2,)))
        self.flow = Affine()

    def losses(self, batch, player=None):
        return {"loss": -self.flow.log_prob(batch["x"]).mean()}


def test_an_invertible_generator_is_encoder_and_generator_with_exact_density():
    model = FlowModel()
    x = torch.randn(5, 2)
    latent = model.flow.encode(x)
    assert isinstance(latent, FlowLatent)
    assert torch.allclose(model.flow(latent.z), x, atol=1e-6)
    ref = torch.distributions.Normal(model.flow.b, model.flow.s.exp())
    assert torch.allclose(model.flow.log_prob(x), ref.log_prob(x).sum(1), atol=1e-5)


def test_a_flow_samples_and_interpolates_through_the_core_prior_path():
    model = FlowModel()
    samples = model.sample(4000, generator=torch.Generator().manual_seed(0))
    assert samples.kind == "points" and samples.data.shape == (4000, 2)
    assert torch.allclose(samples.data.mean(0), model.flow.b.detach(), atol=0.1)
    strip = interpolate(model, [0, 1], steps=3)
    assert strip.data.shape == (3, 2) and strip.extras["nrow"] == 3


# -- sampling with gradients -------------------------------------------------------------


class Energy(GenerativeModel):
    """E(x) = |x - mu|^2 / 2: its gradient points back to mu."""

    def __init__(self) -> None:
        super().__init__(None, DataInfo(kind="points", shape=(2,)))
        self.mu = nn.Parameter(torch.tensor([2.0, -1.0]))

    def energy(self, x: Tensor) -> Tensor:
        return 0.5 * (x - self.mu).pow(2).sum(1)

    def component(self, interface):
        return self


class GradientDescentSampler(Sampler):
    drives = GenerativeModel
    needs_grad = True

    def sample(self, model, n, *, cond=None, generator=None, steps: int = 50):
        x = torch.zeros(n, 2)
        for _ in range(steps):
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(model.energy(x).sum(), x)
            x = x - 0.2 * grad
        return Samples(x, kind="points")


def test_a_sampler_that_needs_gradients_gets_them_and_returns_detached_data():
    register("sampler", "descend", GradientDescentSampler)
    model = Energy()
    out = model.sample(3, sampler="descend")
    assert torch.allclose(out.data, model.mu.detach().expand(3, 2), atol=1e-3)
    assert not out.data.requires_grad and model.mu.grad is None
    assert torch.is_grad_enabled()


class GradientDescentWithoutFlag(GradientDescentSampler):
    needs_grad = False


def test_samplers_run_without_autograd_unless_they_ask():
    register("sampler", "descend_nograd", GradientDescentWithoutFlag)
    with pytest.raises(RuntimeError, match="does not require grad"):
        Energy().sample(3, sampler="descend_nograd")


# -- per-row conditions in decoding ------------------------------------------------------


class Echo(AutoregressiveGenerator):
    """Always predicts its condition's label as the next token (5 labels)."""

    vocab_size, context_length = 5, 32

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(5))
        self.latent_shape, self.data_shape = (), ()

    def step(self, tokens, cache=None, cond=None):
        n, t = tokens.shape
        assert cond is not None and len(cond) == n
        logits = torch.full((n, t, 5), -30.0) + self.bias
        logits[torch.arange(n), :, cond] = 30.0
        return logits, None


class EchoLM(LanguageModel):
    def __init__(self, info) -> None:
        super().__init__(None, info)
        self.net = Echo()

    @property
    def conditional(self) -> bool:
        return True


def echo_model() -> EchoLM:
    return EchoLM(DataInfo(kind="tokens", shape=(9,), vocab_size=5, num_classes=5))


@pytest.mark.parametrize("sampler", ["multinomial", "greedy"])
def test_decoding_honours_every_rows_condition(sampler):
    model = echo_model()
    cond = torch.tensor([0, 1, 2, 3, 4, 2])
    out = model.sample(6, sampler=sampler, cond=cond, generator=torch.Generator().manual_seed(0),
                       max_new_tokens=4)
    generated = out.data[:, 1:]
    assert torch.equal(generated, cond[:, None].expand(6, 4))


def test_one_condition_still_applies_to_every_row():
    out = echo_model().sample(3, cond=torch.tensor([3]), generator=torch.Generator().manual_seed(0),
                              max_new_tokens=2)
    assert (out.data[:, 1:] == 3).all()


# -- discrete latents, the frozen first stage and the latent_prior sampler ----------------


class Quantizer(DiscreteEncoder):
    """Codes = which of ``K`` fixed levels each pixel of a 1x2x2 image is nearest to."""

    num_codes, code_shape, latent_shape = 4, (2, 2), (1, 2, 2)

    def __init__(self) -> None:
        super().__init__()
        self.levels = nn.Parameter(torch.tensor([-0.75, -0.25, 0.25, 0.75]))

    def encode(self, x, cond=None):
        codes = (x[:, 0, :, :, None] - self.levels).abs().argmin(-1)
        return DiscreteLatent(codes, self.num_codes, quantized=self.embed(codes))

    def embed(self, codes):
        return self.levels[codes][:, None]


class Identity(Generator):
    latent_shape = data_shape = (1, 2, 2)

    def forward(self, z, cond=None):
        return z


class Uniform(AutoregressiveGenerator):
    """Equal odds for codes 0-3; never token 4 (the start token)."""

    vocab_size, context_length = 5, 32

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.0, 0.0, 0.0, 0.0, -1e9]))
        self.latent_shape, self.data_shape = (), ()

    def step(self, tokens, cache=None, cond=None):
        return self.bias.expand(*tokens.shape, 5), None


class CodePrior(LanguageModel):
    """A prior over 4 codes; token 4 is its start token."""

    start_tokens = [4]

    def __init__(self) -> None:
        super().__init__(None, DataInfo(kind="tokens", shape=(5,), vocab_size=5))
        self.net = Uniform()


class VQ(GenerativeModel):
    default_sampler = "latent_prior"

    def __init__(self) -> None:
        super().__init__(None, DataInfo(kind="image", shape=(1, 2, 2)))
        self.stage = FirstStage(Quantizer(), Identity(), conditional=False, scale=1.0)
        self.prior = CodePrior()
        self.prior_options = {"max_new_tokens": 4}
        self.decoder = self.stage.decoder

    def decode_latents(self, tokens, cond=None):
        codes = tokens[:, 1:].reshape(-1, 2, 2)
        return self.stage.decode(codes, cond)


def test_first_stage_gives_codes_and_decodes_them():
    stage = VQ().stage
    x = torch.tensor([[[[-0.7, -0.2], [0.3, 0.8]]]])
    assert stage.discrete
    assert stage.codes(x).tolist() == [[[0, 1], [2, 3]]]
    assert torch.allclose(stage.decode(stage.codes(x)), torch.tensor([[[[-0.75, -0.25], [0.25, 0.75]]]]))
    assert torch.allclose(stage.encode(x), stage.decode(stage.codes(x)))


def test_latent_prior_sampler_draws_codes_with_the_priors_sampler_then_decodes():
    model = VQ()
    a = model.sample(16, generator=torch.Generator().manual_seed(3))
    b = model.sample(16, generator=torch.Generator().manual_seed(3))
    assert a.data.shape == (16, 1, 2, 2) and a.kind == "image"
    assert torch.equal(a.data, b.data)
    assert set(a.data.unique().tolist()) <= {-0.75, -0.25, 0.25, 0.75}
    assert a.extras["latents"].shape == (16, 5)
    greedy = model.sample(2, prior_sampler="greedy")
    assert torch.equal(greedy.data[0], greedy.data[1])


def test_latent_prior_options_reach_the_priors_sampler():
    from genloom import ConfigError

    with pytest.raises(ConfigError, match="has no option 'beams'"):
        VQ().sample(2, prior={"beams": 3})


# -- sample kinds from outside the core ----------------------------------------------------


class Counts(SampleKind):
    """A made-up kind: one integer count per sample, written as CSV."""

    name = "counts"
    suffixes = (".csv",)
    default_n = 5

    def write_file(self, samples, path: Path, info) -> None:
        path.write_text("\n".join(str(int(v)) for v in samples.data.flatten()) + "\n")

    def random(self, info, n, generator):
        return torch.randint(0, 10, (n, *info.shape), generator=generator)


def test_a_registered_sample_kind_is_written_and_used_by_the_core(tmp_path):
    from genloom import GenloomError
    from genloom_devkit.testing import synthetic_batch

    register("sample_kind", "counts", Counts)
    assert get_kind("counts").default_suffix == ".csv"
    path = save_samples(Samples(torch.tensor([[3], [4]]), kind="counts"), tmp_path / "c.csv")
    assert path.read_text() == "3\n4\n"
    assert save_samples(Samples(torch.tensor([[3]]), kind="counts"), tmp_path / "c.npy").exists()
    with pytest.raises(GenloomError, match="use .csv or .npy"):
        save_samples(Samples(torch.tensor([[3]]), kind="counts"), tmp_path / "c.png")
    batch = synthetic_batch(DataInfo(kind="counts", shape=(1,)), n=6)
    assert batch["x"].dtype == torch.long and int(batch["x"].max()) < 10


def test_an_unknown_sample_kind_is_a_one_line_error(tmp_path):
    from genloom import GenloomError

    with pytest.raises(GenloomError, match="unknown sample kind 'audio'"):
        save_samples(Samples(torch.zeros(1, 3), kind="audio"), tmp_path / "a.wav")


def test_flow_log_prob_matches_autograd_log_det():
    flow = Affine()
    x = torch.randn(1, 2)
    jac = torch.autograd.functional.jacobian(lambda v: flow.inverse(v)[0], x).reshape(2, 2)
    _, logdet = flow.inverse(x)
    assert float(logdet.detach()) == pytest.approx(math.log(abs(float(torch.linalg.det(jac)))), abs=1e-5)


def test_a_model_without_a_default_sampler_is_a_one_line_error():
    from genloom import ConfigError

    class Stage(FlowModel):
        default_sampler = None

    with pytest.raises(ConfigError, match="has no default sampler"):
        Stage().sample(2)
    assert Stage().sample(2, sampler="prior").data.shape == (2, 2)


class Roll(SampleKind):
    """A plugin's continuous kind: (n, 1, time, pitch) piano rolls in [-1, 1]."""

    name = "roll"
    suffixes = (".npy",)
    value_range = (-1.0, 1.0)


def test_in_house_models_accept_a_plugins_continuous_kind_and_refuse_tokens():
    from genloom import ConfigError, build_model, load_config

    register("sample_kind", "roll", Roll)
    info = DataInfo(kind="roll", shape=(1, 8, 8))
    cfg = load_config(None, ["model.name=diffusion", "model.denoiser.name=mlp", "model.timesteps=10"],
                      check_trainer=False)
    model = build_model(cfg, info)
    assert model.x0_range == 1.0
    assert model.sample(2, steps=2).data.shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match="continuous data"):
        build_model(cfg, DataInfo(kind="tokens", shape=(8,), vocab_size=5))
    with pytest.raises(ValueError, match="token data"):
        EchoLM(DataInfo(kind="roll", shape=(8,), vocab_size=5))


def test_component_finds_a_nested_part_after_direct_children():
    class Nested(GenerativeModel):
        def __init__(self) -> None:
            super().__init__(None, DataInfo(kind="image", shape=(1, 2, 2)))
            self.stage = FirstStage(Quantizer(), Identity(), conditional=False, scale=1.0)

    model = Nested()
    assert model.component(Generator) is model.stage.decoder


def test_plugin_kinds_are_listed_in_their_plural():
    from click.testing import CliRunner

    from genloom.cli import cli

    register("energy", "quadratic", Energy, help="a test energy")
    for name in ("energies", "energy"):
        result = CliRunner().invoke(cli, ["list", name])
        lines = result.output.splitlines()
        assert result.exit_code == 0 and lines[0] == "energies:"
        assert any(line.split()[0] == "local:quadratic" for line in lines[1:])


def test_a_tensor_capability_satisfies_a_samplers_requirement():
    class Ladder(Energy):
        noise_levels = torch.tensor([1.0, 0.5])  # truthiness of this would raise

    class NeedsLadder(GradientDescentSampler):
        requires = ("noise_levels",)

    assert NeedsLadder().check(Ladder()) is not None
    with pytest.raises(Exception, match="needs a model with noise_levels"):
        NeedsLadder().check(Energy())


def test_a_sample_file_is_replaced_whole_or_not_at_all(tmp_path):
    class Flaky(SampleKind):
        name = "flaky"
        suffixes = (".txt",)

        def write_file(self, samples, path, info):
            path.write_text("half of the new sa")
            raise OSError("disk full")

    target = tmp_path / "grid.txt"
    target.write_text("the previous epoch's samples")
    with pytest.raises(OSError, match="disk full"):
        Flaky().write(Samples(torch.zeros(2, 3), kind="flaky"), target)
    assert target.read_text() == "the previous epoch's samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.txt"]  # no temporary file left


@pytest.mark.parametrize("name", ["grid.png", "grid.npy"])
def test_a_sample_file_reaches_the_disk_before_it_replaces_the_old_one(name, tmp_path, monkeypatch):
    """Written through genloom.atomic's one writer: the new bytes are fsynced before the
    rename, so a failing fsync (a crash before the data is on disk) keeps the old file."""
    import os

    from genloom.kinds import get_kind

    target = tmp_path / name
    target.write_bytes(b"the previous epoch's samples")

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        get_kind("image").write(Samples(torch.zeros(4, 1, 8, 8), kind="image"), target)
    assert target.read_bytes() == b"the previous epoch's samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left
