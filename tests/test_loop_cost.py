"""Changes that cut the training loop's cost per step keep what they replaced."""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint

from genloom.run_files import RunModelCheckpoint


def test_the_periodic_checkpoints_state_key_is_lightnings_and_built_once(tmp_path):
    """Lightning reads ``state_key`` for every hook it calls; it is built once, and stays
    the key of Lightning's own class, so checkpoints saved before resume quietly."""
    args = dict(dirpath=str(tmp_path), monitor="step", mode="max", every_n_epochs=10)
    ours = RunModelCheckpoint(**args)
    assert ours.state_key == ModelCheckpoint(**args).state_key
    assert ours.state_key is ours.state_key
