"""genloom_devkit.testing's conformance suite: a sound model passes every check, and each
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
from genloom.interfaces import Sampler, Samples
from genloom_devkit.testing import Case, parametrize_with_checks
from genloom_devkit.testing.checks import (
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

    def __init__(self, dims: int = 2):
        super().__init__()
        self.latent_shape = self.data_shape = (dims,)
        self.s = nn.Parameter(torch.linspace(0.2, -0.3, dims))
        self.b = nn.Parameter(torch.zeros(dims))

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
        self.gen = ScaleShift(info.shape[0])

    def log_prob(self, x):
        z = (x - self.gen.b) * (-self.gen.s).exp()
        normal = -0.5 * z.pow(2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return normal - self.gen.s.sum() + self.offset

    def losses(self, batch, player=None):
        return {"loss": -self.log_prob(batch["x"]).mean()}


class OffDensity(OwnDensity):
    offset = 0.1


class BinaryAutoregressive(nn.Module):
    """A fully-visible sigmoid belief net over ``size`` binary pixels in raster order:
    ``p(x_i = 1 | x_<i) = sigmoid(b_i + sum_{j<i} W_ij x_j)``, the smallest PixelCNN.
    ``peeks`` lets each pixel see every other one (a PixelCNN with a broken mask): a
    product of conditionals that no longer normalises."""

    def __init__(self, size: int, peeks: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.randn(size, size))
        self.b = nn.Parameter(torch.randn(size))
        mask = 1 - torch.eye(size) if peeks else torch.ones(size, size).tril(-1)
        self.register_buffer("mask", mask, persistent=False)

    def logits(self, bits):
        return bits @ (self.w * self.mask).T + self.b

    def log_prob(self, bits):
        return -nn.functional.binary_cross_entropy_with_logits(
            self.logits(bits), bits, reduction="none").sum(1)


class PixelAncestral(Sampler):
    """Draws pixel after pixel from a BinaryAutoregressive net; images in {-1, 1}."""

    drives = BinaryAutoregressive

    def sample(self, model, n, *, cond=None, generator=None, **options):
        net = self.check(model)
        bits = torch.zeros(n, net.b.shape[0])
        for i in range(bits.shape[1]):
            p = torch.sigmoid(net.logits(bits)[:, i])
            bits[:, i] = (torch.rand(n, generator=generator) < p).float()
        return Samples(data=(bits * 2 - 1).view(n, *model.info.shape), kind=model.info.kind)


class TinyPixelModel(GenerativeModel):
    """An exact likelihood over binary images ({-1, 1} per pixel): ``log_prob(x)`` is
    the autoregressive net's; pixels above 0 are on."""

    likelihood = "exact"
    default_sampler = "pixel_ancestral"
    peeks = False

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.net = BinaryAutoregressive(math.prod(info.shape), self.peeks)

    def log_prob(self, x):
        return self.net.log_prob((x.flatten(1) > 0).float())

    def losses(self, batch, player=None):
        return {"loss": -self.log_prob(batch["x"]).mean()}


class PeekingPixelModel(TinyPixelModel):
    peeks = True


MODELS = {"owndensity": OwnDensity, "offdensity": OffDensity, "tinyflow": TinyFlow, "nojacobian": NoJacobian, "resetting": Resetting,
          "unseeded_flow": Unseeded, "unsaved": Unsaved, "tinypixel": TinyPixelModel,
          "peekingpixel": PeekingPixelModel}
BINARY_2X2 = DataInfo(kind="image", shape=(1, 2, 2))


def _register_all():
    for name, cls in MODELS.items():
        register("model", name, cls)
    register("sampler", "pixel_ancestral", PixelAncestral)


_register_all()  # for collection: parametrize_with_checks resolves the model


@pytest.fixture(autouse=True)
def _models(fresh_plugins):
    _register_all()  # every test starts from a fresh plugin host


@parametrize_with_checks([
    Case("tinyflow", "points", overfit_steps=20, lr=0.05, id="tinyflow"),
    Case("tinyflow", DataInfo(kind="points", shape=(3,)), id="tinyflow-3d"),
    Case("owndensity", "points", overfit_steps=20, lr=0.05, id="owndensity"),
    # log_prob in 3-D: its integral estimated by Monte-Carlo
    Case("owndensity", DataInfo(kind="points", shape=(3,)), overfit_steps=20, lr=0.05, id="owndensity-3d"),
    # an autoregressive model over 2x2 binary images: all 16 probabilities sum to 1
    Case("tinypixel", BINARY_2X2, support=(-1.0, 1.0), overfit_steps=20, lr=0.05, id="tinypixel"),
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
    ("offdensity-3d", check_likelihood, r"density integrates to 1\.1\d\d \+- .* \(Monte-Carlo"),
    ("peekingpixel-binary", check_likelihood, "16 possible inputs total probability"),
    ("resetting", check_overfit, "did not lower the loss"),
    ("unseeded_flow", check_seeded_determinism, "equal seeds gave different samples"),
    ("unsaved", check_checkpoint_round_trip, "samples differently"),
])
def test_each_check_catches_its_breakage(model, check, message):
    name, _, data = model.partition("-")
    info = {"3d": DataInfo(kind="points", shape=(3,)), "binary": BINARY_2X2, "": "points"}[data]
    support = (-1.0, 1.0) if data == "binary" else None
    with pytest.raises(AssertionError, match=message):
        check(Case(name, info, overfit_steps=20, lr=0.05, support=support))


def test_a_check_marked_not_applicable_is_a_skip_with_its_reason():
    case = Case("tinyflow", not_applicable={"check_overfit": "a fixed density: nothing to fit"})
    mark = parametrize_with_checks([case], not_applicable={"check_likelihood": "checked elsewhere",
                                                           "check_overfit": "overridden by the case"})
    skips = {p.id: [m.kwargs["reason"] for m in p.marks if m.name == "skip"] for p in mark.args[1]}
    assert skips["tinyflow-check_overfit"] == ["not applicable: a fixed density: nothing to fit"]
    assert skips["tinyflow-check_likelihood"] == ["not applicable: checked elsewhere"]
    assert skips["tinyflow-check_contract"] == []
    with pytest.raises(ValueError, match="no check 'check_overfitt' \\(did you mean 'check_overfit'\\?\\)"):
        Case("tinyflow", not_applicable={"check_overfitt": "typo"})
    with pytest.raises(ValueError, match="needs a reason"):
        parametrize_with_checks(["tinyflow"], not_applicable={"check_overfit": " "})


NOT_APPLICABLE_TEST = '''
import torch
from torch import nn

from genloom import GenerativeModel, register
from genloom_devkit.testing import Case, parametrize_with_checks


class Fixed(GenerativeModel):
    """A fixed density with a vestigial parameter: its loss cannot move in float32."""

    default_sampler = None

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.w = nn.Parameter(torch.ones(1))

    def losses(self, batch, player=None):
        return {"loss": batch["x"].pow(2).sum(1).mean() + 1e-9 * self.w.pow(2).sum()}


register("model", "fixed", Fixed)


@parametrize_with_checks([Case("fixed", not_applicable={"check_overfit": "a fixed density, nothing to fit"})])
def test_conformance(case, check):
    check(case)
'''


def test_pytest_reports_a_not_applicable_check_as_skipped_with_its_reason(tmp_path):
    (tmp_path / "test_na.py").write_text(NOT_APPLICABLE_TEST)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "1 skipped" in proc.stdout and " passed" in proc.stdout
    assert "SKIPPED [1] test_na.py" in proc.stdout
    assert "not applicable: a fixed density, nothing to fit" in proc.stdout


FIXTURES_TEST = '''
def test_fixtures(cli, tiny_info, isolated_plugins, plugin_dir):
    from genloom_devkit.testing import make_plugin
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


def test_the_old_import_paths_are_the_devkits_modules_and_warn():
    import importlib

    import genloom_devkit.scaffold
    import genloom_devkit.testing
    import genloom_devkit.testing.checks

    for old, new in [("genloom.testing", genloom_devkit.testing),
                     ("genloom.testing.conformance", genloom_devkit.testing.checks),
                     ("genloom.scaffold", genloom_devkit.scaffold)]:
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=f"'{old}' moved to '{new.__name__}'"):
            module = importlib.import_module(old)
        assert module is new
    from genloom.testing import Case as OldCase  # noqa: F401 (imported above: no warning)

    assert OldCase is Case


def test_the_devkit_adds_its_commands_through_the_hook(cli):
    listed = cli("--help").stdout
    assert "new-plugin" in listed
    checked = cli("plugins", "check", "devkit", env={"GENLOOM_PLUGIN_IMPORT_BUDGET": "5"})
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: 1 plugin(s), 0 component(s) checked: devkit")
    without = cli("new-plugin", "x", env={"GENLOOM_DISABLE_PLUGINS": "devkit"})
    assert without.returncode == 2 and "no command 'new-plugin' (it comes with genloom-devkit" in without.stderr


def test_the_pytest_plugin_loads_without_torch():
    code = "import sys, genloom_devkit.testing.plugin; print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
