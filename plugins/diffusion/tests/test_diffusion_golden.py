"""Every sampler of this library against outputs recorded at fixed seeds.

The values in ``golden/samplers.json`` were recorded with the samplers as they were
before their loop moved into :class:`~genloom_diffusion.DiffusionSampler` (each wrote
its own ``sample`` and flow its own loop), so a change to the shared loop, the grid,
the order of random draws, guidance or clipping shows here. On the machine that
recorded them the outputs were bit-identical; the comparison allows float32 rounding
(other CPUs sum matrix products in another order), far below what a changed update rule,
an extra noise draw or a shifted timestep does to samples of a random-weight denoiser.

Re-record (only for an intended change of samples, said in the commit):
``python plugins/diffusion/tests/test_diffusion_golden.py --record``.
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
COND = [3, 7, 1, 0]

#: model name -> (data, overrides)
MODELS = {
    "eps": (POINTS, []),
    "v": (POINTS, ["model.denoiser.prediction=v"]),
    "x0": (POINTS, ["model.denoiser.prediction=x0"]),
    "digits": (DIGITS, ["model.conditional=true"]),
    "flow": (POINTS, ["model.objective=flow", "model.denoiser.prediction=v"]),
    "flow-digits": (DIGITS, ["model.objective=flow", "model.denoiser.prediction=v", "model.conditional=true"]),
}

POINT_RUNS = [
    ("ddpm", {}), ("ddpm", {"steps": 9}), ("ddim", {}), ("ddim", {"eta": 1.0, "steps": 7}),
    ("ddim", {"eta": 0.3, "steps": 13, "clip": True}), ("dpmpp_2m", {}),
    ("dpmpp_2m", {"karras": True, "steps": 8}), ("euler", {}), ("euler", {"karras": False, "steps": 11}),
    ("euler", {"clip": True}),
]
DIGIT_RUNS = [
    ("ddpm", {"steps": 10}), ("ddim", {"guidance": 3.0}), ("ddim", {"clip": False, "eta": 1}),
    ("dpmpp_2m", {"guidance": 2.0, "karras": True}), ("euler", {"guidance": 2.5}),
]
FLOW_RUNS = [("flow_euler", {}), ("flow_euler", {"steps": 7, "shift": 3.0}), ("flow_heun", {}),
             ("flow_heun", {"steps": 4, "shift": 2})]


def cases() -> list[tuple[str, str, str, dict, bool]]:
    """``(id, model, sampler, options, conditional)`` for every recorded run."""
    out = []
    for model in ("eps", "v", "x0"):
        out += [(model, sampler, options, False) for sampler, options in POINT_RUNS]
    for sampler, options in DIGIT_RUNS:
        out.append(("digits", sampler, options, True))
        out.append(("digits", sampler, {k: v for k, v in options.items() if k != "guidance"}, False))
    for sampler, options in FLOW_RUNS:
        out.append(("flow", sampler, options, False))
        out.append(("flow-digits", sampler, {**options, "guidance": 2.0}, True))
    return [(f"{m}-{s}-{json.dumps(o, sort_keys=True)}-{'cond' if c else 'uncond'}", m, s, o, c)
            for m, s, o, c in out]


_BUILT: dict[str, torch.nn.Module] = {}


def model(name: str) -> torch.nn.Module:
    """A tiny diffusion model with seeded random weights (perturbed, so no layer is zero)."""
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
    cond = torch.tensor(COND) if conditional else None
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
    values = {key: run(name, s, o, c).tolist() for key, name, s, o, c in cases()}
    lines = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in values.items()]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"recorded {len(values)} runs in {GOLDEN}")
