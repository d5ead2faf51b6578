"""The same seed and config give bit-identical weights and samples, for every in-repo
family: across two training runs, after a checkpoint round trip, and from an export.

A family whose training or sampling depended on unseeded randomness, a dict's order,
or state that checkpoints do not carry would fail here.
"""

from __future__ import annotations

import pytest
import torch

from genloom import load_checkpoint, load_config, train
from genloom.checkpoints import export
from genloom.sampling import draw

from support import ROOT

QUIET = ["trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0",
         "trainer.max_steps=3", "trainer.max_epochs=1", "trainer.limit_val_batches=1"]
FAMILIES = {
    "vae": ("vae-digits.yaml", ["model.latent_dim=4"], {}),
    "gan": ("gan-digits.yaml", ["model.latent_dim=8", "model.generator.channels=8",
                                "model.discriminator.channels=8"], {}),
    "diffusion": ("diffusion-toy2d.yaml", ["data.n=512", "model.denoiser.hidden=16", "model.timesteps=20"],
                  {"sampler": "ddim", "steps": 5}),
    "transformer": ("transformer-pydoc.yaml", ["model.width=16", "model.layers=1", "model.heads=2",
                                               "data.block_size=16"], {"max_new_tokens": 12}),
    "rnn": ("lstm-pydoc.yaml", ["model.hidden=16", "model.layers=1", "data.block_size=16"],
            {"max_new_tokens": 12}),
}


def samples(model, options: dict, seed: int = 7) -> torch.Tensor:
    options = dict(options)
    sampler = options.pop("sampler", None)
    return draw(model, 4, sampler=sampler, generator=torch.Generator().manual_seed(seed), **options).data


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_same_seed_same_weights_and_samples_everywhere(family, tmp_path):
    config, overrides, options = FAMILIES[family]
    runs = []
    for name in ("a", "b"):
        cfg = load_config(str(ROOT / "examples" / "configs" / config),
                          [*QUIET, *overrides, f"output_dir={tmp_path / name}"])
        runs.append(train(cfg, echo=None))
    first, second = (r.model.state_dict() for r in runs)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)  # two runs, bit for bit

    reference = samples(runs[0].model, options)
    assert torch.equal(reference, samples(runs[1].model, options))
    assert torch.equal(reference, samples(load_checkpoint(tmp_path / "a"), options))  # round trip
    assert torch.equal(reference, samples(load_checkpoint(export(tmp_path / "a", tmp_path / "x")), options))
    assert not torch.equal(reference, samples(runs[0].model, options, seed=8))  # the seed matters
