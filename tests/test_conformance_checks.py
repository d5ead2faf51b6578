"""genloom.testing's conformance suite: a sound model passes every check, and each
check fails on a model that breaks its contract; the pytest plugin's fixtures work in
a bare pytest run and load without torch."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from genloom import DataInfo, GenerativeModel, Generator, InvertibleGenerator, register
from genloom.testing import Case, parametrize_with_checks
from genloom.testing.checks import (
    check_checkpoint_round_trip, check_likelihood, check_overfit, check_seeded_determinism,
)


class Affine(InvertibleGenerator):
    """x = exp(s) * z + b: a one-layer flow whose density is exactly known."""

    def __init__(self, logdet_scale: float = 1.0, dims: int = 2):
        super().__init__()
        self.latent_shape = self.data_shape = (dims,)
        self.s = nn.Parameter(torch.linspace(0.3, 0.6, dims))
        self.b = nn.Parameter(torch.zeros(dims))
        self.logdet_scale = logdet_scale  # 0: forgets the Jacobian, a wrong density

    def forward(self, z, cond=None):
        return z * self.s.exp() + self.b

    def inverse(self, x, cond=None):
        z = (x - self.b) * (-self.s).exp()
        return z, -self.s.sum().expand(x.shape[0]) * self.logdet_scale


class TinyFlow(GenerativeModel):
    likelihood = "exact"
    has_latent_space = True
    default_sampler = "prior"
    logdet_scale = 1.0

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.flow = Affine(self.logdet_scale, dims=info.shape[0])

    def losses(self, batch, player=None):
        return {"loss": -self.flow.log_prob(batch["x"]).mean()}


class NoJacobian(TinyFlow):
    logdet_scale = 0.0


class Resetting(TinyFlow):
    """Re-initialises its weights in every loss call: nothing it learns sticks."""

    def losses(self, batch, player=None):
        with torch.no_grad():
            self.flow.s.fill_(0.5)
            self.flow.b.zero_()
        return super().losses(batch, player)


class NoisyAffine(Affine):
    def forward(self, z, cond=None):
        return super().forward(z) + 0.1 * torch.randn_like(z)  # global RNG, not the seed


class Unseeded(TinyFlow):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.flow = NoisyAffine()


class Unsaved(TinyFlow):
    """Keeps a random shift in a non-persistent buffer: a checkpoint cannot restore it."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.register_buffer("shift", torch.randn(info.shape[0]), persistent=False)

    def sample(self, *args, **kwargs):
        samples = super().sample(*args, **kwargs)
        samples.data = samples.data + self.shift
        return samples


class ScaleShift(Generator):
    """A plain (not invertible) generator: x = exp(s) * z + b."""

    latent_shape = data_shape = (2,)

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(torch.tensor([0.2, -0.3]))
        self.b = nn.Parameter(torch.zeros(2))

    def forward(self, z, cond=None):
        return z * self.s.exp() + self.b


class OwnDensity(GenerativeModel):
    """Exact likelihood through its own ``log_prob``, no flow; ``offset`` breaks it."""

    likelihood = "exact"
    has_latent_space = True
    default_sampler = "prior"
    offset = 0.0

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.gen = ScaleShift()

    def log_prob(self, x):
        z = (x - self.gen.b) * (-self.gen.s).exp()
        normal = -0.5 * z.pow(2).sum(1) - math.log(2 * math.pi)
        return normal - self.gen.s.sum() + self.offset

    def losses(self, batch, player=None):
        return {"loss": -self.log_prob(batch["x"]).mean()}


class OffDensity(OwnDensity):
    offset = 0.1


MODELS = {"owndensity": OwnDensity, "offdensity": OffDensity, "tinyflow": TinyFlow, "nojacobian": NoJacobian, "resetting": Resetting,
          "unseeded_flow": Unseeded, "unsaved": Unsaved}


def _register_all():
    for name, cls in MODELS.items():
        register("model", name, cls)


_register_all()  # for collection: parametrize_with_checks resolves the model


@pytest.fixture(autouse=True)
def _models(fresh_plugins):
    _register_all()  # every test starts from a fresh plugin host


@parametrize_with_checks([
    Case("tinyflow", "points", overfit_steps=20, lr=0.05, id="tinyflow"),
    Case("tinyflow", DataInfo(kind="points", shape=(3,)), id="tinyflow-3d"),
    Case("owndensity", "points", overfit_steps=20, lr=0.05, id="owndensity"),
])
def test_a_sound_model_passes_every_check(case, check):
    check(case)


def test_the_suite_yields_one_test_per_check():
    mark = parametrize_with_checks(["tinyflow"])  # a string: the model on tiny 2-D points
    ids = [p.id for p in mark.args[1]]
    assert ids == [  # no entry-module check: a local component has no entry module
        "tinyflow-check_targets_import", "tinyflow-check_contract",
        "tinyflow-check_sample_shapes", "tinyflow-check_seeded_determinism",
        "tinyflow-check_checkpoint_round_trip", "tinyflow-check_overfit", "tinyflow-check_likelihood",
    ]


@pytest.mark.parametrize("model, check, message", [
    ("nojacobian", check_likelihood, "density integrates to"),
    ("nojacobian-3d", check_likelihood, "its Jacobian has"),
    ("offdensity", check_likelihood, "density integrates to 1.1"),
    ("resetting", check_overfit, "did not lower the loss"),
    ("unseeded_flow", check_seeded_determinism, "equal seeds gave different samples"),
    ("unsaved", check_checkpoint_round_trip, "samples differently"),
])
def test_each_check_catches_its_breakage(model, check, message):
    name, _, dims = model.partition("-")
    info = DataInfo(kind="points", shape=(3,)) if dims else "points"
    with pytest.raises(AssertionError, match=message):
        check(Case(name, info, overfit_steps=20, lr=0.05))


FIXTURES_TEST = '''
def test_fixtures(cli, tiny_info, isolated_plugins, plugin_dir):
    from genloom.testing import make_plugin
    assert tiny_info("image").shape == (1, 8, 8)
    loaded = lambda: [n for n, p in isolated_plugins.host().plugins.items() if p.status == "ok"]
    assert loaded() == ["genloom"]  # discovery blocked: installed plugins are disabled
    make_plugin(plugin_dir, "mine", "from genloom import hookimpl\\n")
    isolated_plugins.allow("mine")
    assert loaded() == ["genloom", "mine"]
    assert cli("--version").stdout.startswith("genloom")
'''


def test_the_pytest_plugin_serves_a_bare_pytest_run(tmp_path):
    (tmp_path / "test_bare.py").write_text(FIXTURES_TEST)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "1 passed" in proc.stdout


def test_the_pytest_plugin_loads_without_torch():
    code = "import sys, genloom.testing.plugin; print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
