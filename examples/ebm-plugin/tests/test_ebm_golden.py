"""The Euler ancestral and Heun samplers against outputs recorded at fixed seeds.

``golden/samplers.json`` was recorded with the samplers as they were before they moved
onto genloom-diffusion's shared loop and :class:`genloom_diffusion.SigmaSpaceSampler`
(each wrote its own ``sample``), so a change to the loop, the grid, the order of random
draws, guidance or clipping shows here. On the recording machine the outputs were
bit-identical; the comparison allows only float32 rounding (another CPU's matrix
products). Re-record, for an intended change only:
``python examples/ebm-plugin/tests/test_ebm_golden.py --record``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from genloom import DataInfo, load_config
from genloom.build import build_model

GOLDEN = Path(__file__).parent / "golden" / "samplers.json"
POINTS = DataInfo(kind="points", shape=(2,))
DIGITS = DataInfo(kind="image", shape=(1, 8, 8), num_classes=10)
MODELS = {"eps": (POINTS, []), "v": (POINTS, ["model.denoiser.prediction=v"]),
          "x0": (POINTS, ["model.denoiser.prediction=x0"]), "digits": (DIGITS, ["model.conditional=true"])}
RUNS = [("ebm:euler_ancestral", {}), ("ebm:euler_ancestral", {"eta": 0.5, "steps": 9}), ("ebm:heun", {}),
        ("ebm:heun", {"steps": 6, "clip": True})]
GUIDED = [("ebm:euler_ancestral", {"guidance": 2.0, "steps": 10}), ("ebm:heun", {"guidance": 2.0, "steps": 5})]


def cases() -> list[tuple[str, str, str, dict, bool]]:
    """``(id, model, sampler, options, conditional)`` for every recorded run."""
    out = [(m, s, o, False) for m in ("eps", "v", "x0") for s, o in RUNS]
    out += [("digits", s, o, True) for s, o in GUIDED] + [("digits", s, {"steps": 4}, False) for s, _ in GUIDED]
    return [(f"{m}-{s}-{json.dumps(o, sort_keys=True)}-{'cond' if c else 'uncond'}", m, s, o, c)
            for m, s, o, c in out]


_BUILT: dict[str, torch.nn.Module] = {}


def model(name: str) -> torch.nn.Module:
    """A tiny ``diffusion`` model with seeded random weights (perturbed, so no layer is zero)."""
    if name not in _BUILT:
        info, overrides = MODELS[name]
        torch.manual_seed(0)
        cfg = load_config(None, ["model.name=diffusion", "model.timesteps=100", "model.denoiser.name=mlp",
                                 "model.denoiser.hidden=16", *overrides], check_trainer=False)
        m = build_model(cfg, info)
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        _BUILT[name] = m.eval()
    return _BUILT[name]


def run(name: str, sampler: str, options: dict, conditional: bool) -> torch.Tensor:
    cond = torch.tensor([3, 7, 1, 0]) if conditional else None
    return model(name).sample(4, sampler=sampler, cond=cond, generator=torch.Generator().manual_seed(11),
                              **options).data


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_samples_match_the_recorded_ones(case):
    key, name, sampler, options, conditional = case
    want = torch.tensor(json.loads(GOLDEN.read_text())[key])
    got = run(name, sampler, options, conditional)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    lines = [f"{json.dumps(key)}: {json.dumps(run(n, s, o, c).tolist())}" for key, n, s, o, c in cases()]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"recorded {len(lines)} runs in {GOLDEN}")
