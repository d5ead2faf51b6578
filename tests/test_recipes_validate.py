"""Every packaged recipe validates (and so logs its quality metric) at least once per epoch.

``transformer-pydoc`` and ``lstm-pydoc`` shipped ``val_check_interval: 250`` with epochs
of about 90 batches: validation never ran and ``val/bpc`` was never logged. The
diffusion recipes validated every tenth epoch only.
"""

from __future__ import annotations

from typing import Any

import pytest

from genloom.config import load_config
from genloom.config import config_file
from genloom.plugins import get_registry

RECIPES = sorted(c.full_name for c in get_registry().components("config"))


def train_batches(cfg: Any) -> int:
    """How many training batches one epoch of ``cfg``'s data holds."""
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits

    return len(DataSplits(build_dataset(cfg), cfg.data).train_dataloader())


def validation_problem(cfg: Any) -> str | None:
    """Why ``cfg`` would not validate once per epoch, or None."""
    trainer = cfg.trainer
    every = trainer.get("check_val_every_n_epoch", 1)
    if every is None or every > 1:
        return f"check_val_every_n_epoch={every}"
    interval = trainer.get("val_check_interval")
    if isinstance(interval, int) and not isinstance(interval, bool):
        batches = train_batches(cfg)
        if interval > batches:
            return f"val_check_interval={interval} but an epoch has {batches} batches"
    return None


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_packaged_recipe_validates_every_epoch(recipe):
    cfg = load_config(config_file(recipe), check_trainer=False)
    assert validation_problem(cfg) is None, recipe


def test_the_check_catches_a_validation_interval_longer_than_an_epoch():
    cfg = load_config(config_file("transformer-pydoc"), ["trainer.val_check_interval=250"],
                      check_trainer=False)
    problem = validation_problem(cfg)
    assert problem is not None and "an epoch has" in problem
    assert validation_problem(load_config(config_file("diffusion-digits"),
                                          ["trainer.check_val_every_n_epoch=10"],
                                          check_trainer=False)) == "check_val_every_n_epoch=10"
