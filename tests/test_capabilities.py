"""Every attribute the core or a library reads from a model is declared: on
``GenerativeModel`` or as a protocol of ``genloom.capabilities``; a model that has
part of a capability, or claims one without its members, is reported."""

import re
import warnings

import pytest
import torch
from torch import nn

import genloom
from genloom import GenerativeModel, Generator, IncompatibleSamplerError, Samples
from genloom.capabilities import (
    CAPABILITIES, HasPrior, ImportanceWeighted, members, missing, provides,
)
from genloom_devkit.claims import problems
from genloom_diffusion import DenoisingModel

from support import ROOT

#: the core and the libraries: everything that reads another party's model
READERS = ("core/genloom", "plugins/text/genloom_text", "plugins/eval/genloom_eval",
           "plugins/diffusion/genloom_diffusion", "plugins/devkit/genloom_devkit",
           "plugins/compress/genloom_compress")
LOOKUP = re.compile(r"\b(?:getattr|hasattr)\(\s*([\w.]+)\s*,\s*[\"'](\w+)[\"']")


def _lookups():
    for folder in READERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                for receiver, name in LOOKUP.findall(line):
                    yield f"{path.relative_to(ROOT)}:{lineno}", receiver, name


def _declared() -> set[str]:
    """The names GenerativeModel declares (class attributes, methods, and the attributes
    its __init__ sets), which a reader may take with getattr and their declared default."""
    return {n for n in dir(GenerativeModel()) if not n.startswith("_")}


def test_no_undeclared_getattr_convention_remains():
    declared = _declared()
    protocol = {m for cap in (*CAPABILITIES, DenoisingModel) for m in members(cap)}
    protocol |= {"embed", "num_codes", "count_chars", "inverse"}  # DiscreteEncoder, CountsChars ...
    undeclared, bypassed = [], []
    for where, receiver, name in _lookups():
        if name in protocol - declared:  # a capability is tested with provides/isinstance
            bypassed.append(f"{where}: {receiver}.{name}")
        elif "model" in receiver.split(".")[-1] and name not in declared:
            undeclared.append(f"{where}: {receiver}.{name}")
    assert undeclared == [], "declare these on GenerativeModel or in genloom.capabilities"
    assert bypassed == [], "read capabilities through genloom.capabilities.provides / isinstance"


def test_the_scan_finds_a_convention():
    assert LOOKUP.findall('x = getattr(model, "start_tokens", None)') == [("model", "start_tokens")]


def test_every_capability_has_members_and_docs():
    for cap in CAPABILITIES:
        assert members(cap) and cap.__doc__, cap


class Half(GenerativeModel):
    def importance_log_weights(self, batch, k):
        return torch.zeros(k, len(batch["x"]))

    def token_nats(self, x, cond=None):
        return torch.zeros(len(x), x.shape[1] - 1)


def test_a_full_capability_is_provided_and_a_claim_without_members_is_reported():
    model = Half()
    assert provides(model, ImportanceWeighted) and isinstance(model, ImportanceWeighted)
    assert problems(model) == []

    class NoDecode(GenerativeModel):
        default_sampler = "latent_prior"

        def __init__(self):
            super().__init__()
            self.prior = GenerativeModel()
            self.prior_options = {"max_new_tokens": 4}

    found = problems(NoDecode())
    assert any("latent_prior needs decode_latents" in p for p in found)
    assert any("has prior but not decode_latents" in p for p in found)
    assert problems(NoDecode) and all("decode_latents" in p for p in problems(NoDecode))

    class Exact(GenerativeModel):
        likelihood = "exact"

    assert any("claims likelihood='exact'" in p for p in problems(Exact()))
    assert problems(Exact) == []  # a flow's log_prob is on its component: only instances tell


def test_a_sampler_may_require_a_protocol():
    from genloom.samplers.latent_prior import LatentPriorSampler

    class Decoder(Generator):
        latent_shape, data_shape = (1,), (1,)

        def forward(self, z, cond=None):
            return z

    class OnlyPrior(GenerativeModel):
        def __init__(self):
            super().__init__()
            self.net = Decoder()
            self.prior = GenerativeModel()

    with pytest.raises(IncompatibleSamplerError, match="decode_latents .*HasPrior"):
        LatentPriorSampler().check(OnlyPrior())
    assert missing(OnlyPrior(), HasPrior) == ["decode_latents"]
    assert missing(nn.Module, HasPrior) == ["decode_latents"]  # a class: methods only


def test_at_most_30_public_names_in_one_list():
    import genloom as g

    assert len(g.__all__) <= 30
    assert len(set(g.__all__)) == len(g.__all__)
    source = (ROOT / "core" / "genloom" / "__init__.py").read_text()
    assert "TYPE_CHECKING" not in source  # one list: _LAZY, nothing kept in sync by hand
    for name in g.__all__:
        assert getattr(g, name) is not None


@pytest.mark.parametrize("name,module", [("PriorSampler", "genloom.samplers.prior"),
                                         ("SampleKind", "genloom.kinds"),
                                         ("get_registry", "genloom.plugins"),
                                         ("DivergenceError", "genloom.errors")])
def test_names_that_left_the_root_still_work_and_warn(name, module):
    import importlib

    assert name not in genloom.__all__
    with pytest.warns(DeprecationWarning, match=f"{module}"):
        old = getattr(genloom, name)
    assert old is getattr(importlib.import_module(module), name)


def test_problems_moved_to_the_devkit_and_the_old_name_warns():
    import genloom.capabilities

    assert "problems" not in genloom.capabilities.__all__
    with pytest.warns(DeprecationWarning, match="genloom.capabilities.problems moved to genloom_devkit.claims"):
        assert genloom.capabilities.problems is problems
